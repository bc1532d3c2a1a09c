import { aFileIn, flaggedLines, upToSrc } from './lint-snippet';

// The workflow sandbox boundary is enforced by eslint.config.mjs; this proves the rule bites,
// in src/workflows and in its sub-folders (where provider code is one more '../' away).

/** What a workflow file at `file` may not import, and what it may. */
function snippet(file: string) {
  const up = upToSrc(file);
  const banned = [
    "import { readFileSync } from 'node:fs';",
    "import * as fs from 'fs';",
    "import pino from 'pino';",
    "import { EC2Client } from '@aws-sdk/client-ec2';",
    `import { LocalProvider } from '${up}providers/local/local-provider';`,
    `import { createActivities } from '${up}activities';`,
  ];
  const allowed = [
    `import type { Offer } from '${up}providers/types';`,
    "import { sleep } from '@temporalio/workflow';",
  ];
  const uses =
    'export const used = [readFileSync, fs, pino, EC2Client, LocalProvider, createActivities, sleep];\n' +
    'export type T = Offer;\n';
  return { banned, allowed, code: [...banned, ...allowed, uses].join('\n') };
}

test.each([['src/workflows/index.ts'], [aFileIn('src/workflows', true)]])(
  'in %s, Node builtins, pino, cloud SDKs and provider/activity values are rejected; types and the workflow SDK are not',
  (file) => {
    const { banned, allowed, code } = snippet(file);
    const flagged = flaggedLines(code, file);
    banned.forEach((line, i) => {
      expect([line, flagged.get(i + 1)]).toEqual([line, expect.stringMatching(/sandbox|only import types/)]);
    });
    allowed.forEach((line, i) => {
      expect([line, flagged.get(banned.length + i + 1)]).toEqual([line, undefined]);
    });
  },
);

test('the same imports are allowed outside src/workflows', () => {
  expect([...flaggedLines(snippet('src/worker.ts').code, 'src/worker.ts').keys()]).toEqual([]);
});
