// @ts-check
/**
 * Mutation testing of the decision code (issue 15): `npm run test:mutation`. Writes Stryker's
 * JSON report to reports/mutation/mutation.json; scripts/mutation-score.mjs then prints the
 * score overall and per module and fails below 80% overall or 70% in any module.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  mutate: [
    'src/placement/**/*.ts',
    'src/reconcile/**/*.ts',
    'src/spec/**/*.ts',
    'src/codec/**/*.ts',
    'src/providers/errors.ts',
    'src/providers/aws/errors.ts',
    'src/providers/gcp/errors.ts',
  ],
  testRunner: 'jest',
  jest: { projectType: 'custom', configFile: 'jest.mutation.config.js', enableFindRelatedTests: false },
  coverageAnalysis: 'perTest',
  // The TypeScript checker drops mutants that would not compile (they are not valid mutants).
  // It type-checks tsconfig.mutation.json: the mutated modules and what they import, not the
  // whole of src and test, whose files import src/spec and would each be re-typed per mutant.
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.mutation.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  // Survivors with the tests that ran them; not the list of every test of every killed mutant.
  clearTextReporter: { logTests: false },
  // A 2-core machine: one test runner and the checker per core.
  concurrency: 2,
  // A clean clone has no previous report: every run tests every mutant.
  incremental: false,
  tempDirName: '.stryker-tmp',
  // The sandbox holds the sources and the tests jest.mutation.config.js runs, nothing else: no
  // other test runs here, and each copied file costs time.
  ignorePatterns: [
    'dist',
    'coverage',
    'test/**',
    '!test/{placement,reconcile,spec,codec}/**',
    '!test/providers/**/errors*.test.ts',
    '!test/activities/to-failure.test.ts',
  ],
  cleanTempDir: true,
  timeoutMS: 10000,
  thresholds: { high: 90, low: 80, break: null },
};
