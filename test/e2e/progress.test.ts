import { spawn } from 'node:child_process';
import { CLI, serviceSpec, waitFor, type StatusJson } from '../support/harness';
import { useE2eInstallation } from '../support/e2e';

// What people see while they wait: apply --wait's phase lines and status --watch, not on a
// terminal (as in CI logs). The pool boots slowly enough that every phase is seen.
const e2e = useE2eInstallation({ pools: [{ name: 'slow', bootDelay: '2s' }] });

/** Progress lines of apply --wait on stderr: "[elapsed] NAME PHASE ..." */
const phaseLines = (stderr: string, name: string) =>
  stderr.split('\n').filter((l) => new RegExp(`^\\[\\S+\\] ${name} [A-Z]+`).test(l));
const phaseOf = (line: string) => /^\[\S+\] \S+ ([A-Z]+)/.exec(line)?.[1];

test('apply --wait prints one line per phase change on stderr; --json stdout stays one document', async () => {
  const name = 'progress-web';
  e2e.stopAtEnd(name);
  const r = await e2e.apply(serviceSpec(name), '--wait', '--json');
  const view = JSON.parse(r.stdout) as StatusJson; // the whole of stdout: one document
  expect(view.phase).toBe('RUNNING');
  const lines = phaseLines(r.stderr, name);
  const phases = lines.map(phaseOf);
  // Each change once, in order, ending RUNNING on the pool; the slow boot (2 s PROVISIONING at
  // least, polled every 250 ms) is seen before. STARTING may be too short to be seen.
  expect(phases.at(-1)).toBe('RUNNING');
  expect(lines.at(-1)).toMatch(new RegExp(`^\\[\\S+\\] ${name} RUNNING on local/slow: `));
  expect(phases).toContain('PROVISIONING');
  expect(phases.indexOf('PROVISIONING')).toBeLessThan(phases.indexOf('RUNNING'));
  expect(new Set(phases).size).toBe(phases.length);
  for (let i = 1; i < lines.length; i++) expect(lines[i]).not.toBe(lines[i - 1]);
  // No spinner control characters off a terminal.
  expect(r.stderr).not.toContain('\x1b[');
});

test('status --watch prints a block per change and ends by itself (exit 0) when the workload stops', async () => {
  const name = 'progress-watch';
  e2e.stopAtEnd(name);
  await e2e.apply(serviceSpec(name));
  await e2e.waitRunning(name);
  const child = spawn(process.execPath, [CLI, 'status', name, '--watch'], {
    env: e2e.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  await waitFor(() => out.includes('RUNNING'), 'the first block');
  const stop = await e2e.cli(['stop', name]);
  expect(stop.code).toBe(0);
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    exited,
    new Promise<string>((r) => (timer = setTimeout(() => r('still running'), 60_000))),
  ]);
  clearTimeout(timer);
  expect(code).toBe(0);
  const blocks = out.split(/\n(?=progress-watch {2})/);
  expect(blocks.length).toBeGreaterThanOrEqual(2);
  expect(blocks[0]).toMatch(/RUNNING/);
  expect(blocks.at(-1)).toMatch(/COMPLETED/);
});

test('status --watch ends on Ctrl-C with exit 130', async () => {
  const name = 'progress-sigint';
  e2e.stopAtEnd(name);
  await e2e.apply(serviceSpec(name));
  const child = spawn(process.execPath, [CLI, 'status', name, '--watch'], {
    env: e2e.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  await waitFor(() => out.includes(name), 'the first block');
  child.kill('SIGINT');
  expect(await exited).toBe(130);
});
