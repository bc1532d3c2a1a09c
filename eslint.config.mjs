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

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bin/**', 'bench/**', '*.config.js'] },
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
  {
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
                '**/client/**',
                '**/worker',
              ],
              message: 'Workflows may only import types from providers, activities, agent and client.',
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
