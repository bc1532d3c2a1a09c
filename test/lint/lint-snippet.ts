import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

// Text is linted by the eslint CLI (its ESM config does not load inside jest's VM) as if it
// were a file the TypeScript project knows. Type-aware linting costs ~10 s a call, so each
// call lints many imports at once.
const root = resolve(__dirname, '../..');

/** Line numbers flagged by the restricted-imports rule, with the message. */
export function flaggedLines(code: string, filePath: string): Map<number, string> {
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
    messages: Array<{ ruleId: string | null; message: string; line: number; fatal?: boolean }>;
  }>;
  // A path the TypeScript project does not know fails to parse: that proves nothing.
  expect(result!.messages.filter((m) => m.fatal)).toEqual([]);
  return new Map(
    result!.messages
      .filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports')
      .map((m) => [m.line, m.message]),
  );
}

/**
 * A TypeScript file that exists in `dir` (relative to the root) or, with `nested`, in one of
 * its sub-folders: the snippets are linted under a real file's name, whatever the files are
 * called today.
 */
export function aFileIn(dir: string, nested = false): string {
  for (const e of readdirSync(join(root, dir), { withFileTypes: true }).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    if (!nested && e.isFile() && e.name.endsWith('.ts')) return `${dir}/${e.name}`;
    if (nested && e.isDirectory()) return aFileIn(`${dir}/${e.name}`);
  }
  throw new Error(`no TypeScript file in ${dir}${nested ? "'s sub-folders" : ''}`);
}

/** The relative prefix from `file` up to src/ ('./', '../', '../../'). */
export function upToSrc(file: string): string {
  const depth = file.split('/').length - 2;
  return depth === 0 ? './' : '../'.repeat(depth);
}
