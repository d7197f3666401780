import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const NODE_BUILTINS = [
  'assert', 'buffer', 'child_process', 'cluster', 'crypto', 'dgram', 'dns', 'events', 'fs', 'fs/promises', 'http',
  'http2', 'https', 'net', 'os', 'path', 'perf_hooks', 'process', 'readline', 'stream', 'timers', 'tls', 'url',
  'util', 'v8', 'vm', 'worker_threads', 'zlib',
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'src/generated/**', '.dise/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })] },
    rules: {
      // A forgotten await on a Temporal or Prisma call is a real bug.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no I/O, clock, env, Node modules,
    // database or LLM clients, and activities only as types.
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...NODE_BUILTINS.flatMap((m) => [
              { name: m, message: 'Workflows are deterministic: no Node modules.' },
              { name: `node:${m}`, message: 'Workflows are deterministic: no Node modules.' },
            ]),
            { name: 'openai', message: 'LLM calls belong in activities.' },
            { name: '@prisma/client', message: 'Database access belongs in activities.' },
            { name: 'pg', message: 'Database access belongs in activities.' },
            { name: '@temporalio/client', message: 'Use @temporalio/workflow APIs inside workflows.' },
            { name: '@temporalio/worker', message: 'Use @temporalio/workflow APIs inside workflows.' },
            { name: '@temporalio/activity', message: 'Activities are proxied with proxyActivities, not imported.' },
          ],
          patterns: [
            { group: ['**/generated/**', '**/infra/**', '**/config/**', '**/lineage/**', '**/sandbox/**', '**/llm/**', '**/runtime/**', '**/detection/**', '**/cli/**'], message: 'Workflows import only src/shared and type-only activity definitions.' },
            { group: ['**/activities/**', '**/activities'], allowTypeImports: true, message: 'Import activities as types only (proxyActivities).' },
          ],
        },
      ],
      'no-restricted-globals': ['error', 'process', 'setTimeout', 'setInterval', 'fetch'],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Use workflow time (sleep/condition); Date.now() is fine only via the SDK sandbox, keep it explicit.' },
        { object: 'Math', property: 'random', message: 'Use uuid4() from @temporalio/workflow for deterministic randomness.' },
      ],
    },
  },
  {
    // Layers: no arrow runs upward. Infra (servers, connections, migrations) knows nothing of the
    // client helpers, the CLI, the worker or the healing code built on it.
    files: ['src/infra/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../cli/*', '../client/*', '../worker', '../worker.js', '../healing/*', '../activities/*', '../workflows/*', '../runtime/*', '../lineage/*'],
              message: 'src/infra is the bottom layer: it must not import the layers built on it.',
            },
          ],
        },
      ],
    },
  },
  {
    // src/shared is imported by workflows, activities, clients and the CLI: it imports nothing of theirs.
    files: ['src/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [{ group: ['../*', '!../shared/*'], message: 'src/shared imports only src/shared (and @temporalio/common or /workflow).' }],
        },
      ],
    },
  },
  {
    // Temporal client code lives in src/client; healing algorithms and the client helpers do not mix.
    files: ['src/healing/**/*.ts', 'src/client/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [{ group: ['../cli/*', '../worker', '../worker.js'], message: 'No arrow upward: the CLI and the worker are built on these.' }],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
