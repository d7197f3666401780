import { installTemporalRuntime } from '../../src/infra/temporal-runtime.js';

// Workers in tests log at WARN: test output shows failures, not the SDK's progress chatter.
installTemporalRuntime('WARN');
