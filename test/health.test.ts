import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/client/main';
import { checkHealthFile, HEALTH_FILE_ENV, startHealthBeat, type HealthBeat } from '../src/health';

let dir: string;
let beat: HealthBeat | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'driftless-health-test-'));
});

afterEach(async () => {
  await beat?.stop();
  beat = undefined;
  await rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sets the file's modification time `secondsAgo` in the past. */
async function age(file: string, secondsAgo: number): Promise<void> {
  const t = new Date(Date.now() - secondsAgo * 1000);
  await utimes(file, t, t);
}

/** Waits until `file` exists (the first touch is asynchronous). */
async function until(check: () => Promise<boolean>, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}
const exists = (file: string) => () =>
  stat(file).then(
    () => true,
    () => false,
  );

describe('startHealthBeat', () => {
  test('touches the file at once while healthy, creating its directory', async () => {
    const file = join(dir, 'run', 'worker.health');
    beat = startHealthBeat({ file, healthy: () => true, intervalMs: 60_000 });
    await until(exists(file));
    expect(await checkHealthFile(file, 30_000)).toMatchObject({ ok: true });
    expect(await readFile(file, 'utf8')).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  test('keeps touching it every interval, so an old file turns fresh again', async () => {
    const file = join(dir, 'worker.health');
    beat = startHealthBeat({ file, healthy: () => true, intervalMs: 30 });
    await until(exists(file));
    await age(file, 120);
    expect((await checkHealthFile(file, 30_000)).ok).toBe(false);
    await until(async () => (await checkHealthFile(file, 30_000)).ok);
  });

  test('never touches it while unhealthy, and stops touching when the process turns unhealthy', async () => {
    const file = join(dir, 'worker.health');
    let healthy = false;
    beat = startHealthBeat({ file, healthy: () => healthy, intervalMs: 20 });
    await sleep(100);
    expect(await exists(file)()).toBe(false);
    healthy = true;
    await until(exists(file));
    healthy = false;
    await sleep(50); // a touch already under way finishes
    await age(file, 120);
    await sleep(100);
    expect(await checkHealthFile(file, 30_000)).toMatchObject({ ok: false });
  });

  test('stop() removes the file, so the process reads unhealthy at once', async () => {
    const file = join(dir, 'worker.health');
    const b = startHealthBeat({ file, healthy: () => true, intervalMs: 20 });
    await until(exists(file));
    await b.stop();
    expect(await exists(file)()).toBe(false);
    await sleep(60);
    expect(await exists(file)()).toBe(false);
  });

  test('reports a file it cannot write and goes on trying', async () => {
    const blocker = join(dir, 'not-a-dir');
    await writeFile(blocker, 'x');
    const errors: unknown[] = [];
    beat = startHealthBeat({
      file: join(blocker, 'worker.health'),
      healthy: () => true,
      intervalMs: 20,
      onError: (e) => errors.push(e),
    });
    await until(async () => errors.length >= 2);
    expect((errors[0] as NodeJS.ErrnoException).code).toMatch(/ENOTDIR|EEXIST/);
  });
});

describe('checkHealthFile', () => {
  test('is healthy when the file is younger than the limit', async () => {
    const file = join(dir, 'h');
    await writeFile(file, '');
    await age(file, 10);
    const r = await checkHealthFile(file, 30_000);
    expect(r.ok).toBe(true);
    expect(r.ageMs).toBeGreaterThanOrEqual(9_000);
    expect(r.ageMs).toBeLessThan(30_000);
  });

  test('is unhealthy when the file is older than the limit, and says how old', async () => {
    const file = join(dir, 'h');
    await writeFile(file, '');
    await age(file, 45);
    const r = await checkHealthFile(file, 30_000);
    expect(r).toMatchObject({ ok: false });
    expect(r.ok === false && r.reason).toMatch(/last touched 4[56]s ago \(limit 30s\)/);
  });

  test('is unhealthy when the file is missing, and says the process has not started or stopped', async () => {
    const r = await checkHealthFile(join(dir, 'missing'), 30_000);
    expect(r).toMatchObject({ ok: false });
    expect(r.ok === false && r.reason).toMatch(/no health file .*not started yet, or has stopped/);
  });
});

describe('driftless health', () => {
  let stdout: string[];
  let stderr: string[];
  const saved = process.env[HEALTH_FILE_ENV];

  beforeEach(() => {
    stdout = [];
    stderr = [];
    jest.spyOn(process.stdout, 'write').mockImplementation((s) => (stdout.push(String(s)), true));
    jest.spyOn(process.stderr, 'write').mockImplementation((s) => (stderr.push(String(s)), true));
    delete process.env[HEALTH_FILE_ENV];
  });

  afterEach(() => {
    jest.restoreAllMocks();
    process.exitCode = undefined;
    if (saved === undefined) delete process.env[HEALTH_FILE_ENV];
    else process.env[HEALTH_FILE_ENV] = saved;
  });

  const run = (...args: string[]) => main(['node', 'driftless', 'health', ...args]);

  test('exits 0 for a fresh file', async () => {
    const file = join(dir, 'h');
    await writeFile(file, '');
    expect(await run('--file', file)).toBe(0);
    expect(stdout.join('')).toMatch(/^healthy: /);
  });

  test('exits 1 (Docker: unhealthy) for a file older than --max-age', async () => {
    const file = join(dir, 'h');
    await writeFile(file, '');
    await age(file, 20);
    expect(await run('--file', file, '--max-age', '10s')).toBe(1);
    expect(stderr.join('')).toMatch(/unhealthy: .*last touched/);
  });

  test(`reads the file from ${HEALTH_FILE_ENV} and exits 1 when it is missing`, async () => {
    process.env[HEALTH_FILE_ENV] = join(dir, 'missing');
    expect(await run()).toBe(1);
    expect(stderr.join('')).toMatch(/no health file/);
  });

  test('exits 2 when no file is named at all', async () => {
    expect(await run()).toBe(2);
    expect(stderr.join('')).toMatch(/--file or set DRIFTLESS_HEALTH_FILE/);
  });
});
