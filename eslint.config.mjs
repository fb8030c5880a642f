// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const ioModules = ['ioredis', 'dockerode', '@aws-sdk/*', 'node:*', 'fs', 'fs/*', 'path', 'child_process', 'net', 'os', 'crypto', 'http', 'https', 'dns', 'stream', 'zlib'];

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
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ioModules,
              allowTypeImports: true,
              message: 'Workflow code must stay deterministic: do I/O in an activity (src/activities) and share pure logic through src/cluster.',
            },
            {
              group: ['**/activities', '**/activities/*', '**/runtime/*', '**/storage/*', '**/config'],
              allowTypeImports: true,
              message: 'Workflows see activities only as types (import type) and never load runtime, storage or config code.',
            },
          ],
        },
      ],
    },
  },
);
