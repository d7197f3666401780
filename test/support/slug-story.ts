// The slug story lives with the demo's stories; the tests use it from there.
export * from '../../src/demo/slug-lineage.js';
