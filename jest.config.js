/** One Temporal dev server and one worker per run (test/harness), tests in band. */
const swc = ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }];

module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': swc },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  globalSetup: '<rootDir>/test/harness/globalSetup.ts',
  globalTeardown: '<rootDir>/test/harness/globalTeardown.ts',
  testTimeout: 180_000,
  // Unit tests first (fast, most telling), test/final last (it inspects every history of the run).
  testSequencer: '<rootDir>/test/harness/sequencer.js',
};
