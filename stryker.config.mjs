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
  // No TypeScript checker: on a 2-core machine it took 7-20 s a mutant (each check re-types every
  // file that imports the mutated one, and src/spec is imported by most of src), i.e. hours for
  // the whole set. Without it a mutant that would not compile runs as transpiled JavaScript and
  // counts as a valid mutant: the score can only come out lower, never higher. To use it on a
  // bigger machine: --checkers typescript --tsconfigFile tsconfig.json.
  checkers: [],
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  // Survivors with the tests that ran them; not the list of every test of every killed mutant.
  clearTextReporter: { logTests: false },
  // A 2-core machine: one test runner and the checker per core.
  concurrency: 2,
  // A clean clone has no previous report: every run tests every mutant.
  incremental: false,
  tempDirName: '.stryker-tmp',
  // The sandbox holds the sources and the tests jest.mutation.config.js runs, nothing else: the
  // TypeScript checker compiles every file the sandbox has, and no other test matters here.
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
