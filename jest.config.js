/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // One Temporal dev server for the whole run; each test file starts its own workers and pools.
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  // End-to-end tests start real processes; two cores do not gain from parallel files.
  maxWorkers: 1,
  // Above every test's own deadlines (its chained waits reach ~270 s on a loaded machine), so a
  // slow test gives up by itself and says what it saw instead of being cut off by jest.
  testTimeout: 300000,
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: { warnOnly: false } }] },
};
