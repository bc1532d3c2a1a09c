/**
 * What the spec loader refuses before it parses, and how it reads what it parses: binary input,
 * a spec over the size limit (from a file, from text, from standard input), YAML alias bombs,
 * the YAML parser's own messages, and env values kept as written. The CLI tests
 * (test/client/cli.test.ts) check the exit codes; these check the loader's exact answers.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  loadSpecFile,
  MAX_SPEC_BYTES,
  parseSpecBytes,
  parseSpecText,
  type SpecResult,
} from '../../src/spec/load';

const VALID = 'name: train\nkind: job\ncommand: [python, train.py]\n';
const LIMIT_NOTE = "a spec may be at most 256 KiB (it is kept in the workflow's history)";

function problemsOf(result: SpecResult) {
  if (result.ok) throw new Error(`expected a problem, got the spec ${JSON.stringify(result.spec)}`);
  return result.problems;
}

/** A valid spec padded with a YAML comment to exactly `bytes` bytes. */
function specOfSize(bytes: number): string {
  const pad = bytes - VALID.length - 2;
  return VALID + '#' + 'x'.repeat(pad) + '\n';
}

describe('binary input is refused with the byte where it starts', () => {
  test('a NUL byte, at its offset', () => {
    const bytes = Buffer.concat([Buffer.from(VALID), Buffer.from([0]), Buffer.from('rest\n')]);
    expect(problemsOf(parseSpecBytes(bytes))).toEqual([
      {
        path: '(document)',
        message: `not a text file (binary content at byte ${VALID.length}); expected YAML or JSON`,
      },
    ]);
  });

  test('a NUL byte as the very first byte is at byte 0', () => {
    expect(problemsOf(parseSpecBytes(Buffer.from([0, 0x41, 0x42, 0x43, 0x44, 0x45])))[0]!.message).toBe(
      'not a text file (binary content at byte 0); expected YAML or JSON',
    );
  });

  test('bytes that are not UTF-8, at their offset', () => {
    const bytes = Buffer.concat([
      Buffer.from('name: é\n'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('kind: job\n'),
    ]);
    // "name: é\n" is 9 bytes (é takes two).
    expect(problemsOf(parseSpecBytes(bytes))[0]!.message).toBe(
      'not a text file (binary content at byte 9); expected YAML or JSON',
    );
  });

  test('bytes that are not UTF-8 at the very start are at byte 0', () => {
    const bytes = Buffer.concat([Buffer.from([0xff]), Buffer.from(VALID)]);
    expect(problemsOf(parseSpecBytes(bytes))[0]!.message).toBe(
      'not a text file (binary content at byte 0); expected YAML or JSON',
    );
  });

  test('a multi-byte character in the last bytes is text, not binary', () => {
    expect(parseSpecBytes(Buffer.from(VALID + '# é\n')).ok).toBe(true);
    expect(parseSpecBytes(Buffer.from(VALID + '#é')).ok).toBe(true);
  });
});

describe('a spec over the size limit is refused, naming its size and the limit', () => {
  test('the limit is 256 KiB', () => {
    expect(MAX_SPEC_BYTES).toBe(256 * 1024);
  });

  test('a spec of exactly the limit is accepted, one byte more is refused', () => {
    expect(parseSpecText(specOfSize(MAX_SPEC_BYTES)).ok).toBe(true);
    expect(parseSpecBytes(Buffer.from(specOfSize(MAX_SPEC_BYTES))).ok).toBe(true);
    expect(problemsOf(parseSpecText(specOfSize(MAX_SPEC_BYTES + 1)))).toEqual([
      { path: '(document)', message: `the spec is 257 KiB; ${LIMIT_NOTE}` },
    ]);
  });

  test('bytes whose whole size is known give that size, in MiB from 1 MiB on', () => {
    const head = Buffer.from(specOfSize(MAX_SPEC_BYTES + 10));
    expect(problemsOf(parseSpecBytes(head, 10 * 1024 * 1024))[0]!.message).toBe(
      `the spec is 10.0 MiB; ${LIMIT_NOTE}`,
    );
    expect(problemsOf(parseSpecBytes(head, 1024 * 1024))[0]!.message).toBe(
      `the spec is 1.0 MiB; ${LIMIT_NOTE}`,
    );
    expect(problemsOf(parseSpecBytes(head, 1024 * 1024 - 1))[0]!.message).toBe(
      `the spec is 1024 KiB; ${LIMIT_NOTE}`,
    );
  });

  test('a multi-byte character cut at the limit is still text: the spec is refused as too big', () => {
    const text = specOfSize(MAX_SPEC_BYTES);
    // The limit falls inside "é" (two bytes): the head read up to the limit ends in half of it.
    const bytes = Buffer.concat([Buffer.from(text.slice(0, -1)), Buffer.from('é\n')]);
    expect(bytes.length).toBe(MAX_SPEC_BYTES + 2);
    expect(problemsOf(parseSpecBytes(bytes))[0]!.message).toBe(`the spec is over 256 KiB; ${LIMIT_NOTE}`);
  });

  test('bytes of unknown whole size (read up to the limit) say "over" the limit', () => {
    const head = Buffer.from(specOfSize(MAX_SPEC_BYTES + 1));
    expect(problemsOf(parseSpecBytes(head))[0]!.message).toBe(`the spec is over 256 KiB; ${LIMIT_NOTE}`);
  });

  test('a file over the limit is refused with its size from the file system', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'driftless-spec-'));
    try {
      const file = join(dir, 'big.yaml');
      await writeFile(file, specOfSize(3 * 1024 * 1024));
      expect(problemsOf(await loadSpecFile(file))).toEqual([
        { path: '(document)', message: `the spec is 3.0 MiB; ${LIMIT_NOTE}` },
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('standard input over the limit is refused without reading it all', async () => {
    let pulled = 0;
    // An endless stream of comment lines, as /dev/zero would be endless.
    const endless = new Readable({
      read() {
        pulled += 64 * 1024;
        this.push('#' + 'x'.repeat(64 * 1024 - 2) + '\n');
      },
    });
    expect(problemsOf(await loadSpecFile('-', endless))).toEqual([
      { path: '(document)', message: `the spec is over 256 KiB; ${LIMIT_NOTE}` },
    ]);
    expect(pulled).toBeLessThan(2 * MAX_SPEC_BYTES);
    endless.destroy();
  });

  test('a spec on standard input is read from the stream given', async () => {
    const result = await loadSpecFile('-', Readable.from([Buffer.from(VALID)]));
    expect(result.ok && result.spec.name).toBe('train');
  });

  test('standard input that fails is a problem at (stdin)', async () => {
    const failing = new Readable({
      read() {
        this.destroy(new Error('EIO: input gone'));
      },
    });
    expect(problemsOf(await loadSpecFile('-', failing))).toEqual([
      { path: '(stdin)', message: 'cannot read the spec: Error: EIO: input gone' },
    ]);
  });
});

describe('YAML is parsed with guards and its messages kept short', () => {
  test('an alias bomb is refused, naming the alias limit', () => {
    const lines = ['a0: &a0 [lol, lol]'];
    for (let i = 1; i <= 30; i++) lines.push(`a${i}: &a${i} [*a${i - 1}, *a${i - 1}]`);
    const problems = problemsOf(parseSpecText(lines.join('\n') + '\n'));
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe('(document)');
    expect(problems[0]!.message).toMatch(/^not accepted: .*alias.* \(at most 100 aliases are expanded\)$/i);
  });

  test("the parser's message is given without its own position suffix, which the path holds", () => {
    const problems = problemsOf(parseSpecText('name: [train\nkind: job\n'));
    expect(problems.length).toBeGreaterThan(0);
    for (const p of problems) {
      expect(p.path).toMatch(/^line \d+, column \d+$/);
      expect(p.message).toMatch(/^not valid YAML or JSON: /);
      expect(p.message).not.toMatch(/at line \d+, column \d+/);
      expect(p.message).not.toContain('\n');
      expect(p.message.length).toBeLessThanOrEqual('not valid YAML or JSON: '.length + 200);
    }
  });

  test('env values are kept as written, not as YAML reads numbers and booleans', () => {
    const result = parseSpecText(
      VALID + 'env:\n  VERSION: 3.10\n  CODE: 007\n  FLAG: yes\n  ON: true\n  HEX: 0x1F\n  TEXT: plain\n',
    );
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.spec.env).toEqual({
      VERSION: '3.10',
      CODE: '007',
      FLAG: 'yes',
      ON: 'true',
      HEX: '0x1F',
      TEXT: 'plain',
    });
  });

  test('only the env is kept as written: other numbers are numbers', () => {
    const result = parseSpecText(VALID + 'recovery:\n  maxRestarts: 007\n');
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.spec.recovery.maxRestarts).toBe(7);
  });
});
