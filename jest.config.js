/**
 * Two projects: `unit` (pure functions, no servers) and `servers` (one Temporal dev server and
 * one worker per run, started by test/harness). `npx jest --selectProjects unit` needs nothing.
 */
const swc = ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }];
const common = { testEnvironment: 'node', transform: { '^.+\\.ts$': swc } };

module.exports = {
  testTimeout: 180_000,
  // Unit tests first (fast, most telling), test/final last (it inspects every history of the run).
  testSequencer: '<rootDir>/test/harness/sequencer.js',
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'servers',
      testMatch: ['<rootDir>/test/{workflow,integration,docker,chaos,final}/**/*.test.ts'],
      globalSetup: '<rootDir>/test/harness/globalSetup.ts',
      globalTeardown: '<rootDir>/test/harness/globalTeardown.ts',
    },
  ],
};
