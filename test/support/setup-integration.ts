import { installTemporalRuntime } from '../../src/infra/temporal-runtime.js';

// Workers in tests log at WARN: test output shows failures, not the SDK's progress chatter. The core's
// gRPC retry warnings are off too: the fault tests stop servers on purpose.
installTemporalRuntime('WARN', 'ERROR');
