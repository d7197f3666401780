/** Detector results: a FailureRecord before it is stored (defined in src/shared). */
export type { DetectedFailure } from '../shared/lineage-types.js';
