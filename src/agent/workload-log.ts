/**
 * Reading the workload's log (workload.log in the instance directory) for `driftless logs`.
 *
 * The workload writes straight into the file through the descriptor the agent hands it (no copy
 * through the agent, so a chatty workload costs the agent nothing), and restarts in place append
 * to the same file. The file has no timestamps, so for `--since` the agent samples the file's
 * size once a second while it grows ({@link LogIndex}): a sample (t, size) says every byte past
 * `size` was written after `t`. That makes `--since` precise to about a second, without touching
 * the workload's output.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';

/**
 * The most a read returns. A Temporal payload may hold 2 MB; 256 KiB of the worst output
 * (control bytes, each escaped as \u00XX in JSON) is about 1.5 MB, so any output fits.
 */
export const MAX_LOG_READ_BYTES = 256 * 1024;

export interface ReadLogInput {
  /**
   * Read from this byte offset on (what a previous read returned as `nextOffset`): `--follow`.
   * An offset past the end (a log that was replaced) reads from the start. Takes precedence over
   * `tailLines` and `sinceAgoMs`.
   */
  offset?: number;
  /** Only the last this many lines (of those within `sinceAgoMs`, when given). @default all */
  tailLines?: number;
  /**
   * Only what was written in the last this many milliseconds, to about a second. Relative, and
   * measured on the agent's clock: the CLI's clock may be off from the instance's.
   */
  sinceAgoMs?: number;
  /** At most this many bytes (clamped to {@link MAX_LOG_READ_BYTES}). @default MAX_LOG_READ_BYTES */
  maxBytes?: number;
}

export interface LogChunk {
  /** The bytes read, as UTF-8 (never split inside a character). */
  text: string;
  /** Byte offset of the first byte of `text`. */
  offset: number;
  /** Where the next read goes on (`offset` plus the bytes of `text`). */
  nextOffset: number;
  /** The log's size when it was read. */
  size: number;
  /**
   * The cap cut the answer short: more follows from `nextOffset` (a forward read), or earlier
   * lines that `tailLines` asked for were left out (a tail read).
   */
  truncated: boolean;
  /** The offset asked for was past the end, so this read started over at 0. */
  reset?: boolean;
}

const NL = 0x0a;

/** (time, size) samples of a growing file, for `sinceAgoMs`. Bounded: see {@link sample}. */
export class LogIndex {
  private times: number[] = [];
  private sizes: number[] = [];

  constructor(
    private readonly path: string,
    /** Most samples kept; past it, every other one is dropped (coarser, never wrong). */
    private readonly maxSamples = 86_400,
  ) {}

  /** Records the file's size now, when it changed since the last sample (or is the first). */
  sample(now = Date.now()): void {
    let size: number;
    try {
      size = statSync(this.path).size;
    } catch {
      return; // not written yet
    }
    const last = this.sizes.length - 1;
    if (last >= 0 && this.sizes[last] === size) return;
    this.times.push(now);
    this.sizes.push(size);
    if (this.times.length > this.maxSamples) {
      // Halve the resolution rather than forget the start: a sample dropped only widens the
      // window a byte may come from, it never puts a byte on the wrong side of a time.
      const n = this.times.length;
      this.times = this.times.filter((_, i) => (n - 1 - i) % 2 === 0); // the newest one stays
      this.sizes = this.sizes.filter((_, i) => (n - 1 - i) % 2 === 0);
    }
  }

  /**
   * A byte offset such that what was written from `sinceMs` on starts at or after it: the size at
   * the last sample taken at or before `sinceMs` (0 when none was). Bytes past it were written
   * after that sample, so at most one sampling interval before `sinceMs` when sampling is
   * regular.
   */
  offsetAt(sinceMs: number): number {
    let lo = 0;
    let hi = this.times.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.times[mid]! <= sinceMs) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? 0 : this.sizes[found]!;
  }

  /** Samples held (for tests of the bound). */
  get length(): number {
    return this.times.length;
  }
}

/** The end of the last whole UTF-8 character in buf[0, end). */
export function utf8End(buf: Buffer, end: number): number {
  // Look back at most 3 bytes for the lead byte of the last character.
  for (let i = end - 1; i >= Math.max(0, end - 4); i--) {
    const b = buf[i]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte
    const len = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return i + len <= end ? end : i;
  }
  return end;
}

/** Reads buf.length bytes at `position` (fewer at the end of the file). */
function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** Reads what `input` asks of the log at `path`; an absent log reads as empty. */
export function readLog(path: string, input: ReadLogInput, index?: LogIndex, now = Date.now()): LogChunk {
  const cap = Math.max(1, Math.min(input.maxBytes ?? MAX_LOG_READ_BYTES, MAX_LOG_READ_BYTES));
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      return { text: '', offset: 0, nextOffset: 0, size: 0, truncated: false };
    throw err;
  }
  try {
    const size = fstatSync(fd).size;
    if (input.offset !== undefined) return forward(fd, size, input.offset, cap);
    let floor = 0;
    if (input.sinceAgoMs !== undefined && index)
      floor = lineStartAtOrAfter(fd, index.offsetAt(now - input.sinceAgoMs), size);
    if (input.tailLines !== undefined) return tail(fd, size, floor, input.tailLines, cap);
    return forward(fd, size, floor, cap);
  } finally {
    closeSync(fd);
  }
}

/** From `offset` on, at most `cap` bytes; cut at a line end when the cap cuts it short. */
function forward(fd: number, size: number, offset: number, cap: number): LogChunk {
  const reset = offset > size || offset < 0;
  const from = reset ? 0 : Math.floor(offset);
  const buf = readAt(fd, from, Math.min(cap, size - from));
  const truncated = from + buf.length < size;
  let end = buf.length;
  if (truncated) {
    const nl = buf.lastIndexOf(NL);
    if (nl >= 0) end = nl + 1;
  }
  // Never split a character: its rest comes with the next read.
  end = utf8End(buf, end);
  // A single character longer than the cap cannot happen (cap >= 1 would need 4); make progress.
  if (end === 0 && buf.length > 0 && truncated) end = buf.length;
  return {
    text: buf.subarray(0, end).toString('utf8'),
    offset: from,
    nextOffset: from + end,
    size,
    truncated,
    ...(reset ? { reset: true } : {}),
  };
}

/** The last `lines` lines of [floor, size), at most `cap` bytes of them (whole lines, if any fit). */
function tail(fd: number, size: number, floor: number, lines: number, cap: number): LogChunk {
  const start = Math.max(floor, size - cap);
  const buf = readAt(fd, start, size - start);
  // Whether buf begins at the start of a line (or of what was asked for).
  const whole = start === floor || readAt(fd, start - 1, 1)[0] === NL;
  // A last line without its newline yet counts as a line.
  let i = buf.length > 0 && buf[buf.length - 1] === NL ? buf.length - 1 : buf.length;
  let found = 0;
  let from = buf.length;
  while (found < lines && i > 0) {
    const nl = buf.lastIndexOf(NL, i - 1);
    if (nl < 0) break;
    found++;
    from = nl + 1;
    i = nl;
  }
  let truncated = false;
  if (found < lines) {
    // Fewer lines than asked: all of them, unless the cap cut into them (then whole lines only).
    truncated = start > floor;
    if (whole) from = 0;
    else {
      const nl = buf.indexOf(NL);
      from = nl >= 0 && nl + 1 < buf.length ? nl + 1 : 0;
    }
  }
  const end = utf8End(buf, buf.length);
  from = Math.min(from, end);
  return {
    text: buf.subarray(from, end).toString('utf8'),
    offset: start + from,
    nextOffset: start + end,
    size,
    truncated,
  };
}

/**
 * `offset` if a line starts there, else the start of the next line; `offset` itself when no line
 * ends within the next 256 KiB (a scan of one endless line would block the agent).
 */
function lineStartAtOrAfter(fd: number, offset: number, size: number): number {
  if (offset <= 0) return 0;
  if (offset >= size) return size;
  const buf = readAt(fd, offset - 1, Math.min(MAX_LOG_READ_BYTES, size - offset + 1));
  const nl = buf.indexOf(NL);
  return nl >= 0 ? offset + nl : utf8Start(fd, offset);
}

/** `offset`, moved on past UTF-8 continuation bytes so that a read from it starts a character. */
function utf8Start(fd: number, offset: number): number {
  const buf = readAt(fd, offset, 4);
  let i = 0;
  while (i < buf.length && (buf[i]! & 0xc0) === 0x80) i++;
  return offset + i;
}
