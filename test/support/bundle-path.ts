import { inject } from 'vitest';
import type {} from './workflow-bundle.js'; // declares the provided workflowBundlePath

/** The run's workflow bundle (built once by global setup), for `workflowBundle: { codePath }` or a worker child. */
export function workflowBundlePath(): string {
  return inject('workflowBundlePath');
}
