// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

// Workflow code runs in Temporal's deterministic sandbox: no I/O, no logging library, no clouds.
const sandboxBanned = [
  ...builtinModules,
  ...builtinModules.map((m) => `node:${m}`),
  'pino',
  'pino-*',
  'zod',
  '@aws-sdk/*',
  '@google-cloud/*',
  '@temporalio/worker',
  '@temporalio/client',
  '@temporalio/activity',
];

// The CLI sits on top: nothing else in src/ may import it, not even its types (the worker, the
// activities and the agent run without it). Any relative path ending in a folder `client`
// (./client, ../client/..., ../../client) reaches src/client from somewhere in src/.
const clientBan = {
  regex: '^(\\.|\\.\\.)/(\\.\\./)*client(/|$)',
  message: 'Only src/client may import src/client: the CLI depends on the rest of src, not the reverse.',
};

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      'bin/**',
      'bench/**',
      '*.config.js',
      // What Stryker writes (npm run test:mutation): its report and its sandboxes.
      'reports/**',
      '.stryker-tmp/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // Size guards (issue 10): a file a reader can hold in mind; workflow steps short enough to
  // follow without the rest of the workflow open beside them.
  {
    files: ['src/**/*.ts'],
    rules: { 'max-lines': ['error', { max: 400 }] },
  },
  {
    files: ['src/workflows/**/*.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 80 }] },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/client/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [clientBan] }],
    },
  },
  {
    // Replaces the rule above for workflow files, so it carries clientBan too. (A pattern that
    // allows type imports exempts every type import it matches from all patterns: so client is
    // not in that group, or its types would pass.)
    files: ['src/workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: sandboxBanned
            .filter((n) => !n.includes('*'))
            .map((name) => ({
              name,
              message: 'Workflows run in the Temporal sandbox: no Node builtins or I/O.',
            })),
          patterns: [
            clientBan,
            {
              group: sandboxBanned.filter((n) => n.includes('*')),
              message: 'Workflows run in the Temporal sandbox: no logging library or cloud SDKs.',
            },
            {
              group: [
                '**/providers/**',
                '**/providers',
                '**/activities',
                '**/activities/**',
                '**/agent/**',
                '**/worker',
              ],
              message: 'Workflows may only import types from providers, activities and agent.',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { globals: { console: 'readonly', process: 'readonly' } },
  },
);
