import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { formatLogLine, logFormat } from '../src/logger';
import { ROOT } from './support/harness';

describe('logFormat', () => {
  test('readable lines on a terminal, JSON elsewhere', () => {
    expect(logFormat({}, true)).toBe('pretty');
    expect(logFormat({}, false)).toBe('json');
  });

  test('DRIFTLESS_LOG_FORMAT wins over the terminal test', () => {
    expect(logFormat({ DRIFTLESS_LOG_FORMAT: 'json' }, true)).toBe('json');
    expect(logFormat({ DRIFTLESS_LOG_FORMAT: 'pretty' }, false)).toBe('pretty');
  });
});

describe('formatLogLine', () => {
  const line = JSON.stringify({
    level: 40,
    time: new Date(2026, 0, 2, 12, 3, 4).getTime(),
    pid: 123,
    component: 'temporal-sdk',
    sdkComponent: 'worker',
    workflowId: 'workload-web',
    attempt: 2,
    reason: 'workflow execution already completed',
    msg: 'Activity completion failed',
  });

  test('time, level, component, message and fields, no JSON', () => {
    const out = formatLogLine(line);
    expect(out).toBe(
      '12:03:04  WARN   temporal-sdk  Activity completion failed  workflowId=workload-web  attempt=2  ' +
        'reason="workflow execution already completed"\n',
    );
  });

  test('an error shows its type and message', () => {
    const out = formatLogLine(
      JSON.stringify({
        level: 50,
        time: 0,
        msg: 'failed',
        err: { type: 'Error', message: 'boom', stack: 'x' },
      }),
    );
    expect(out.endsWith('ERROR  failed  (Error: boom)\n')).toBe(true);
  });

  test('at most six fields, the rest counted', () => {
    const many = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`f${i}`, i]));
    const out = formatLogLine(JSON.stringify({ level: 30, time: 0, msg: 'm', ...many }));
    expect(out).toContain('f5=5');
    expect(out).not.toContain('f6=6');
    expect(out).toContain('(+3 more)');
  });

  test('a line that is not JSON passes through', () => {
    expect(formatLogLine('plain text')).toBe('plain text\n');
  });
});

// The built module (npm test builds first), in a child process: what it writes to fd 2.
describe('createLogger', () => {
  const run = (format: string) =>
    spawnSync(
      process.execPath,
      [
        '-e',
        `require(${JSON.stringify(join(ROOT, 'dist/logger.js'))}).createLogger({ component: 'c' }).warn({ n: 1 }, 'hello')`,
      ],
      { env: { ...process.env, DRIFTLESS_LOG_FORMAT: format }, encoding: 'utf8' },
    );

  test('pretty: a readable line on stderr', () => {
    const r = run('pretty');
    expect(r.stderr).toMatch(/^\d\d:\d\d:\d\d {2}WARN {3}c {2}hello {2}n=1\n$/);
  });

  test('json: one JSON object on stderr', () => {
    const r = run('json');
    expect(JSON.parse(r.stderr)).toMatchObject({ level: 40, component: 'c', msg: 'hello', n: 1 });
  });
});
