/**
 * Jest for mutation testing (`npm run test:mutation`, stryker.config.mjs): only the fast unit
 * tests of the mutated decision code (placement, reconcile, spec, codec, the providers' error
 * classifiers). No Temporal dev server (no globalSetup), no e2e or chaos tests: Stryker runs
 * these once per mutant, so each second here is a second times hundreds of mutants.
 * @type {import('jest').Config}
 */
// Fewer fast-check runs per property (300 by default, test/placement/rank.property.test.ts):
// Stryker runs the property tests for every mutant of rank.ts and every static mutant.
process.env.FC_RUNS ??= '60';

module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: [
    '<rootDir>/test/{placement,reconcile,spec,codec}/**/*.test.ts',
    '<rootDir>/test/providers/**/errors*.test.ts',
    '<rootDir>/test/activities/to-failure.test.ts',
  ],
  // Transpile only: Stryker's TypeScript checker has already dropped the mutants that do not
  // compile (stryker.config.mjs); type-checking each test file again per mutant would slow every run.
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: { isolatedModules: true }, diagnostics: false }],
  },
};
