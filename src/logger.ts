import { writeSync } from 'node:fs';
import pino, { type DestinationStream, type Logger } from 'pino';

/** How log lines are written: JSON (one object a line) or readable lines for a person. */
export type LogFormat = 'json' | 'pretty';

/**
 * The format from DRIFTLESS_LOG_FORMAT (`json` or `pretty`); else readable lines when stderr
 * is a terminal and JSON everywhere else (pipes, files, containers, log collectors).
 */
export function logFormat(env: NodeJS.ProcessEnv = process.env, tty = !!process.stderr.isTTY): LogFormat {
  const f = env.DRIFTLESS_LOG_FORMAT;
  if (f === 'json' || f === 'pretty') return f;
  return tty ? 'pretty' : 'json';
}

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
/** Fields every line has, or that say nothing to a person reading a terminal. */
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'component', 'sdkComponent']);
const MAX_FIELDS = 6;
const MAX_VALUE = 120;

function fieldText(v: unknown): string {
  let t = typeof v === 'string' ? (/[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v) : JSON.stringify(v);
  if (t === undefined) t = String(v);
  return t.length > MAX_VALUE ? t.slice(0, MAX_VALUE - 1) + '…' : t;
}

/**
 * One pino JSON line as a person reads it: `12:03:04 WARN  temporal-sdk  message  key=value ...`
 * (local time, the level, the component, the message, a few fields; an error's message and the
 * first line of its stack). Not JSON: returns the line as it is.
 */
export function formatLogLine(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : line + '\n';
  }
  const time = new Date(typeof o.time === 'number' ? o.time : Date.now()).toTimeString().slice(0, 8);
  const level = (LEVELS[o.level as number] ?? String(o.level)).padEnd(5);
  const parts = [time, level];
  if (typeof o.component === 'string') parts.push(o.component);
  if (typeof o.msg === 'string' && o.msg) parts.push(o.msg);
  const err = o.err as { message?: string; type?: string } | undefined;
  if (err && typeof err === 'object') parts.push(`(${err.type ?? 'Error'}: ${err.message ?? ''})`);
  const fields = Object.entries(o).filter(([k, v]) => !HIDDEN.has(k) && k !== 'err' && v !== undefined);
  const shown = fields.slice(0, MAX_FIELDS).map(([k, v]) => `${k}=${fieldText(v)}`);
  if (fields.length > MAX_FIELDS) shown.push(`(+${fields.length - MAX_FIELDS} more)`);
  return [...parts, ...shown].join('  ') + '\n';
}

/** Writes pino's lines to stderr, formatted for a person, synchronously (as the JSON one is). */
function prettyStderr(): DestinationStream {
  return {
    write(chunk: string) {
      // pino writes one complete line per call.
      for (const line of chunk.split('\n')) if (line) writeSync(2, formatLogLine(line));
    },
  };
}

/**
 * Logs to stderr (stdout carries command results): JSON lines, or readable lines on a terminal
 * (see {@link logFormat}). Level from DRIFTLESS_LOG_LEVEL.
 * @default level "info"
 */
export function createLogger(bindings: Record<string, unknown> = {}, level?: string): Logger {
  const options = {
    level: level ?? process.env.DRIFTLESS_LOG_LEVEL ?? 'info',
    base: { pid: process.pid, ...bindings },
  };
  return pino(options, logFormat() === 'pretty' ? prettyStderr() : pino.destination({ fd: 2, sync: true }));
}

export type { Logger };
