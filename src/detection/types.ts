import type { JsonValue, Severity } from '../shared/lineage-types.js';

/** The seed's FailureRecord as a detector returns it (not yet stored), with its evidence. */
export interface DetectedFailure {
  failureType: string;
  description: string;
  stackTrace: string | null;
  testCaseFailed: string | null;
  detectionMethod: 'test' | 'regression_test' | 'runtime' | 'static_analysis' | 'rule_gate';
  severity: Severity;
  evidence: JsonValue;
}
