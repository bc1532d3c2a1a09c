import { appendFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { createAgentActivities, WorkloadRunner } from '../../src/agent/activities';
import {
  LogIndex,
  MAX_LOG_READ_BYTES,
  readLog,
  utf8End,
  type LogChunk,
  type ReadLogInput,
} from '../../src/agent/workload-log';
import { waitFor } from '../support/harness';

// Reading workload.log for `driftless logs`: offsets, tails, the cap, --since.
let dir: string;
let path: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'driftless-log-'));
  path = join(dir, 'workload.log');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const lines = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `line ${from + i}\n`).join('');

test('a log not written yet reads as empty', () => {
  expect(readLog(path, {})).toEqual({ text: '', offset: 0, nextOffset: 0, size: 0, truncated: false });
});

test('a read returns the whole log and the offset to go on from; a read from that offset returns only what was added', () => {
  writeFileSync(path, lines(1, 3));
  const first = readLog(path, {});
  expect(first).toEqual({ text: lines(1, 3), offset: 0, nextOffset: 21, size: 21, truncated: false });
  appendFileSync(path, lines(4, 5));
  const next = readLog(path, { offset: first.nextOffset });
  expect(next.text).toBe(lines(4, 5));
  expect(next.offset).toBe(21);
  expect(next.nextOffset).toBe(next.size);
  expect(readLog(path, { offset: next.nextOffset }).text).toBe('');
});

test('a partial last line is returned as it is, and the rest of it with the next read', () => {
  writeFileSync(path, 'done\nhalf');
  const a = readLog(path, {});
  expect(a.text).toBe('done\nhalf');
  appendFileSync(path, ' line\n');
  expect(readLog(path, { offset: a.nextOffset }).text).toBe(' line\n');
});

test('the cap cuts a read at the last whole line within it, and the next read goes on from there', () => {
  writeFileSync(path, lines(1, 10)); // 7 bytes a line up to 9, 8 for line 10
  const a = readLog(path, { maxBytes: 20 });
  expect(a).toMatchObject({ text: lines(1, 2), offset: 0, nextOffset: 14, truncated: true });
  const b = readLog(path, { offset: a.nextOffset, maxBytes: 20 });
  expect(b).toMatchObject({ text: lines(3, 4), offset: 14, truncated: true });
  let all = a.text + b.text;
  let next = b.nextOffset;
  for (let i = 0; i < 10 && next < b.size; i++) {
    const c = readLog(path, { offset: next, maxBytes: 20 });
    all += c.text;
    next = c.nextOffset;
  }
  expect(all).toBe(lines(1, 10));
});

test('a line longer than the cap is returned in pieces rather than never', () => {
  writeFileSync(path, 'x'.repeat(50) + '\n');
  const a = readLog(path, { maxBytes: 16 });
  expect(a).toMatchObject({ text: 'x'.repeat(16), nextOffset: 16, truncated: true });
});

test('maxBytes is clamped to 256 KiB, so no answer comes near the 2 MB payload limit', () => {
  writeFileSync(path, Buffer.alloc(MAX_LOG_READ_BYTES + 1000, 'a'));
  const a = readLog(path, { maxBytes: 10 * MAX_LOG_READ_BYTES });
  expect(a.nextOffset).toBe(MAX_LOG_READ_BYTES);
  expect(a.truncated).toBe(true);
  const t = readLog(path, { tailLines: 5, maxBytes: 10 * MAX_LOG_READ_BYTES });
  expect(Buffer.byteLength(t.text)).toBe(MAX_LOG_READ_BYTES);
});

test('an offset past the end (a replaced log) reads from the start and says so', () => {
  writeFileSync(path, lines(1, 2));
  expect(readLog(path, { offset: 1000 })).toMatchObject({ text: lines(1, 2), offset: 0, reset: true });
});

test('tailLines returns the last N lines, counting a last line without its newline', () => {
  writeFileSync(path, lines(1, 10));
  const t = readLog(path, { tailLines: 3 });
  expect(t).toMatchObject({ text: lines(8, 10), nextOffset: t.size, truncated: false });
  expect(t.offset).toBe(t.size - Buffer.byteLength(lines(8, 10)));
  appendFileSync(path, 'partial');
  expect(readLog(path, { tailLines: 2 }).text).toBe('line 10\npartial');
  expect(readLog(path, { tailLines: 0 })).toMatchObject({ text: '', nextOffset: t.size + 7 });
});

test('tailLines beyond the log returns all of it, not truncated', () => {
  writeFileSync(path, lines(1, 3));
  expect(readLog(path, { tailLines: 100 })).toMatchObject({ text: lines(1, 3), offset: 0, truncated: false });
  writeFileSync(path, '\n\nx\n');
  expect(readLog(path, { tailLines: 10 }).text).toBe('\n\nx\n');
  expect(readLog(path, { tailLines: 2 }).text).toBe('\nx\n');
});

test('a tail the cap cuts into starts at a whole line and says it is truncated', () => {
  writeFileSync(path, lines(1, 10));
  const t = readLog(path, { tailLines: 8, maxBytes: 20 });
  // The last 20 bytes are "ne 8\nline 9\nline 10\n": the partial "ne 8" is left out.
  expect(t).toMatchObject({ text: lines(9, 10), truncated: true });
  // Cut exactly at a line start: that line is whole and kept.
  const exact = readLog(path, { tailLines: 8, maxBytes: Buffer.byteLength(lines(8, 10)) });
  expect(exact).toMatchObject({ text: lines(8, 10), truncated: true });
});

test('no read splits a UTF-8 character: its bytes come whole with the next read', () => {
  writeFileSync(path, 'aé€😀'); // 1 + 2 + 3 + 4 bytes
  let text = '';
  let next = 0;
  for (let i = 0; i < 20 && next < 10; i++) {
    const c = readLog(path, { offset: next, maxBytes: 4 });
    expect(c.text).not.toContain('\ufffd');
    text += c.text;
    next = c.nextOffset;
  }
  expect(text).toBe('aé€😀');
  expect(utf8End(Buffer.from('a€'), 3)).toBe(1);
  expect(utf8End(Buffer.from('a€'), 4)).toBe(4);
});

test('sinceAgoMs starts at the first line written after the sample at or before that time', () => {
  const index = new LogIndex(path);
  writeFileSync(path, lines(1, 2));
  index.sample(1_000);
  appendFileSync(path, lines(3, 4));
  index.sample(2_000);
  appendFileSync(path, 'line 5 begun'); // a partial line at the 3 s sample
  index.sample(3_000);
  appendFileSync(path, ' and ended\nline 6\n');
  index.sample(4_000);
  expect(readLog(path, { sinceAgoMs: 40 }, index, 4_050).text).toBe('');
  // Bytes after the 3 s sample may be from 3.95 s: line 6 is kept.
  expect(readLog(path, { sinceAgoMs: 100 }, index, 4_050).text).toBe('line 6\n');
  expect(readLog(path, { sinceAgoMs: 1000 }, index, 2_500).text).toBe(
    lines(3, 4) + 'line 5 begun and ended\nline 6\n',
  );
  // The line begun before the 3 s sample is older than that: it is left out.
  expect(readLog(path, { sinceAgoMs: 500 }, index, 3_500).text).toBe('line 6\n');
  // Before the first sample: everything.
  expect(readLog(path, { sinceAgoMs: 10_000 }, index, 4_000).text).toBe(readLog(path, {}).text);
  // With a tail: the last lines of those.
  expect(readLog(path, { sinceAgoMs: 1000, tailLines: 1 }, index, 2_500).text).toBe('line 6\n');
  expect(readLog(path, { sinceAgoMs: 500, tailLines: 5 }, index, 3_500).text).toBe('line 6\n');
});

test('sinceAgoMs inside one endless line starts where the sample was, without scanning the whole line', () => {
  const index = new LogIndex(path);
  writeFileSync(path, 'x'.repeat(1000));
  index.sample(1_000);
  appendFileSync(path, 'y'.repeat(MAX_LOG_READ_BYTES + 10));
  index.sample(2_000);
  const r = readLog(path, { sinceAgoMs: 500 }, index, 1_500);
  expect(r.offset).toBe(1000);
  expect(r.text.startsWith('yyy')).toBe(true);
});

test('the index keeps a sample only when the log grew, and halves its resolution past its bound', () => {
  const index = new LogIndex(path, 8);
  writeFileSync(path, 'a\n');
  index.sample(0);
  index.sample(1);
  expect(index.length).toBe(1);
  for (let t = 1; t <= 8; t++) {
    appendFileSync(path, 'a\n');
    index.sample(t * 1000);
  }
  expect(index.length).toBeLessThanOrEqual(8);
  // Still never wrong: an offset at or before what was written by then.
  for (let t = 0; t <= 8; t++) expect(index.offsetAt(t * 1000)).toBeLessThanOrEqual(2 * (t + 1));
  expect(index.offsetAt(8000)).toBe(18);
  expect(index.offsetAt(-1)).toBe(0);
});

test('readWorkloadLog reads what the started workload wrote, through the agent activity', async () => {
  const runner = new WorkloadRunner({ instanceId: 'ilog', dir, logger: pino({ level: 'silent' }) });
  const acts = createAgentActivities(runner);
  const mock = new MockActivityEnvironment();
  const read = (input: ReadLogInput) => mock.run(acts.readWorkloadLog, input) as Promise<LogChunk>;
  try {
    await mock.run(acts.startWorkload, {
      workload: 'w',
      command: ['node', '-e', 'for (let i = 1; i <= 5; i++) console.log("out " + i); console.error("err 6")'],
      env: {},
    });
    await waitFor(() => runner.exit() !== undefined, 'the workload to exit', 30_000);
    const all = await read({});
    expect(all.text).toBe('out 1\nout 2\nout 3\nout 4\nout 5\nerr 6\n');
    const tail = await read({ tailLines: 2 });
    expect(tail.text).toBe('out 5\nerr 6\n');
    // --since through the runner's own index: the whole run is younger than a minute.
    const since = await read({ sinceAgoMs: 60_000 });
    expect(since.text).toBe(all.text);
    // The runner samples the log's size every second: a second later, nothing is that new.
    await new Promise((r) => setTimeout(r, 1300));
    expect((await read({ sinceAgoMs: 0 })).text).toBe('');
    const none = await read({ offset: all.nextOffset });
    expect(none).toMatchObject({ text: '', nextOffset: all.size });
  } finally {
    await runner.stop(500);
    runner.markGone();
  }
});
