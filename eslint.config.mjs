// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const ioModules = ['ioredis', 'dockerode', '@aws-sdk/*', 'node:*', 'fs', 'fs/*', 'path', 'child_process', 'net', 'os', 'crypto', 'http', 'https', 'dns', 'stream', 'zlib'];

/**
 * One of our folders or root modules as relative imports name it ("../client", "../../client/sdk"),
 * so that "@temporalio/client" is never mistaken for src/client.
 */
const ours = (...names) => `^(\\.\\.?/)+(${names.join('|')})(/|$)`;

/**
 * The house, floor by floor: src/cluster (pure) at the bottom; config, credentials, runtime,
 * storage, codec, util; activities; src/shared (names); workflows; the client and the worker at
 * the edge. Nothing imports from a floor above its own. One block per folder, because a later
 * block's options replace an earlier one's for the same rule.
 */
const restrictImports = (...patterns) => ({ '@typescript-eslint/no-restricted-imports': ['error', { patterns }] });

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.state/', 'coverage/', 'test-artifacts/', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no I/O, no Node built-ins.
    files: ['src/workflows/**/*.ts'],
    rules: restrictImports(
      {
        group: ioModules,
        allowTypeImports: true,
        message: 'Workflow code must stay deterministic: do I/O in an activity (src/activities) and share pure logic through src/cluster.',
      },
      {
        group: ['**/activities', '**/activities/*', '**/runtime', '**/runtime/*', '**/storage', '**/storage/*', '**/config'],
        allowTypeImports: true,
        message: 'Workflows see activities only as types (import type) and never load runtime, storage or config code.',
      },
      {
        regex: ours('client', 'codec', 'credentials', 'util'),
        message: 'Workflows sit below the client and run in the sandbox: they never load client, codec, credentials or util code; shared names live in src/shared.',
      },
    ),
  },
  {
    // The pure model at the bottom of the house: workflows and activities both use it.
    files: ['src/cluster/**/*.ts'],
    rules: restrictImports(
      { group: ioModules, message: 'src/cluster is the pure Redis Cluster model: no I/O here; do it in an activity, runtime or storage.' },
      { regex: '^\\.\\./(?!validation$)', message: 'src/cluster is the bottom floor: it imports nothing of ours outside src/cluster but src/validation.' },
    ),
  },
  {
    // Loaded by workflows (so sandbox-safe), activities and clients alike, so it depends on none of them.
    files: ['src/shared.ts'],
    rules: restrictImports(
      { group: ioModules, message: 'src/shared is loaded into the workflow sandbox: no I/O, no Node built-ins.' },
      { regex: '^\\.', message: 'src/shared holds the names workflows, activities and clients share: it imports nothing of ours.' },
    ),
  },
  {
    // The floors the activities stand on: inventory, secrets, node runtimes, backup stores, the payload codec.
    files: ['src/config.ts', 'src/credentials.ts', 'src/inventorySecurity.ts', 'src/runtime/**/*.ts', 'src/storage/**/*.ts', 'src/codec/**/*.ts', 'src/util/**/*.ts'],
    rules: restrictImports({
      regex: ours('activities', 'workflows', 'client', 'shared'),
      message: 'config, credentials, runtime, storage, codec and util sit below the activities: they import nothing from activities, workflows, the client or src/shared.',
    }),
  },
  {
    files: ['src/activities/**/*.ts'],
    rules: restrictImports({
      regex: ours('workflows', 'client'),
      message: 'Activities sit below workflows and the client: share names through src/shared, and use the Temporal client the worker injects (ActivityContext.client).',
    }),
  },
  {
    // The client starts and reads workflows; their side effects and the inventory are the worker's.
    files: ['src/client/**/*.ts'],
    rules: restrictImports({
      regex: ours('activities', 'runtime', 'storage', 'config', 'credentials'),
      allowTypeImports: true,
      message: 'The client starts and reads workflows: it never loads activities, runtime, storage, config or credentials code (types only).',
    }),
  },
);
