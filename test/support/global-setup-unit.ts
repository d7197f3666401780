import type { TestProject } from 'vitest/node';
import { bundleWorkflowsOnce } from './workflow-bundle.js';

/** Unit tests start no services; their workflow tests share the run's one workflow bundle. */
export default async function setup(project: TestProject): Promise<void> {
  project.provide('workflowBundlePath', await bundleWorkflowsOnce());
}
