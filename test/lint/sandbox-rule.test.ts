import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

// The workflow sandbox boundary is enforced by eslint.config.mjs; this proves the rule bites.
// Text is linted by the eslint CLI (its ESM config does not load inside jest's VM) as if it
// were a file the TypeScript project knows. Type-aware linting costs ~10 s a call, so each
// call lints many imports at once.
const root = resolve(__dirname, '../..');

/** Line numbers flagged by the restricted-imports rule. */
function flaggedLines(code: string, filePath: string): Map<number, string> {
  const r = spawnSync(
    process.execPath,
    [
      resolve(root, 'node_modules/eslint/bin/eslint.js'),
      '--stdin',
      '--stdin-filename',
      filePath,
      '--format',
      'json',
    ],
    { cwd: root, input: code, encoding: 'utf8' },
  );
  const [result] = JSON.parse(r.stdout) as Array<{
    messages: Array<{ ruleId: string | null; message: string; line: number }>;
  }>;
  return new Map(
    result!.messages
      .filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports')
      .map((m) => [m.line, m.message]),
  );
}

const banned = [
  "import { readFileSync } from 'node:fs';",
  "import * as fs from 'fs';",
  "import pino from 'pino';",
  "import { EC2Client } from '@aws-sdk/client-ec2';",
  "import { LocalProvider } from '../providers/local/local-provider';",
  "import { createActivities } from '../activities';",
];
const allowed = [
  "import type { Offer } from '../providers/types';",
  "import { sleep } from '@temporalio/workflow';",
];
const uses =
  'export const used = [readFileSync, fs, pino, EC2Client, LocalProvider, createActivities, sleep];\n' +
  'export type T = Offer;\n';
const code = [...banned, ...allowed, uses].join('\n');

test('in src/workflows, Node builtins, pino, cloud SDKs and provider/activity values are rejected; types and the workflow SDK are not', () => {
  const flagged = flaggedLines(code, 'src/workflows/index.ts');
  banned.forEach((line, i) => {
    expect([line, flagged.get(i + 1)]).toEqual([line, expect.stringMatching(/sandbox|only import types/)]);
  });
  allowed.forEach((line, i) => {
    expect([line, flagged.get(banned.length + i + 1)]).toEqual([line, undefined]);
  });
});

test('the same imports are allowed outside src/workflows', () => {
  expect([...flaggedLines(code, 'src/worker.ts').keys()]).toEqual([]);
});
