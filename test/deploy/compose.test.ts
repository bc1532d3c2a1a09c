import { execFile, spawnSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { SEARCH_ATTRIBUTES } from '../../src/common/names';

// A structural check of docker-compose.yml and its one-shot scripts, plus `docker compose config`
// where Docker Compose v2 is installed (CI has no Docker engine to run the stack).
const ROOT = join(__dirname, '../..');
const COMPOSE_TEXT = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  restart?: string;
  profiles?: string[];
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
  environment?: Record<string, string | null>;
  volumes?: string[];
  ports?: string[];
  command?: string[];
  entrypoint?: string[];
}

const compose = parse(COMPOSE_TEXT, { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

/** Services that run once and exit: something waits for them to complete successfully. */
const oneShots = new Set(
  Object.values(services).flatMap((s) =>
    Object.entries(Array.isArray(s.depends_on) ? {} : (s.depends_on ?? {}))
      .filter(([, d]) => d.condition === 'service_completed_successfully')
      .map(([name]) => name),
  ),
);
const longRunning = Object.keys(services).filter((n) => !oneShots.has(n));

/** An exact version: x.y.z (x.y for PostgreSQL, whose versions have two parts), or a digest. */
function isExactTag(image: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return true;
  const m = /^(?<repo>[a-z0-9./_-]+):(?<tag>[A-Za-z0-9._-]+)$/.exec(image);
  if (!m) return false;
  const { repo, tag } = m.groups!;
  if (repo === 'postgres') return /^\d+\.\d+(-[a-z0-9]+)?$/.test(tag!);
  return /^\d+\.\d+\.\d+(-[A-Za-z0-9.-]+)?$/.test(tag!);
}

/** The host script a one-shot service runs: its entrypoint's path under its mounted folder. */
function scriptOf(name: string): string {
  const s = services[name]!;
  const inContainer = (s.entrypoint ?? []).find((a) => a.endsWith('.sh'));
  expect(inContainer).toBeDefined();
  for (const v of s.volumes ?? []) {
    const [host, target] = v.split(':') as [string, string];
    if (inContainer!.startsWith(target + '/'))
      return resolve(ROOT, host, inContainer!.slice(target.length + 1));
  }
  throw new Error(`${name}: ${inContainer} is not in a mounted folder`);
}

describe('docker-compose.yml', () => {
  test('has the Temporal stack (PostgreSQL, schema job, server, init job, UI), the codec and the workers', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['codec', 'postgresql', 'temporal', 'temporal-init', 'temporal-schema', 'ui', 'worker'].sort(),
    );
    expect([...oneShots].sort()).toEqual(['temporal-init', 'temporal-schema']);
  });

  test('uses no temporalio/auto-setup image (no longer built)', () => {
    expect(COMPOSE_TEXT).not.toMatch(/auto-setup/);
  });

  test('pins every image to an exact version; built images carry the package version', () => {
    for (const [name, s] of Object.entries(services)) {
      expect({ name, image: s.image }).toEqual({ name, image: expect.any(String) });
      if (s.build !== undefined)
        expect({ name, image: s.image }).toEqual({ name, image: `driftless:${pkg.version}` });
      else expect({ name, exact: isExactTag(s.image!) }).toEqual({ name, exact: true });
    }
    expect(isExactTag('temporalio/server:1.30')).toBe(false);
    expect(isExactTag('postgres:16')).toBe(false);
    expect(isExactTag('temporalio/ui:latest')).toBe(false);
  });

  test('runs the server from temporalio/server and its schema job from the same admin-tools version', () => {
    const version = /:(.+)$/.exec(services.temporal!.image!)![1];
    expect(services.temporal!.image).toMatch(/^temporalio\/server:/);
    expect(services['temporal-schema']!.image).toBe(`temporalio/admin-tools:${version}`);
    expect(services['temporal-init']!.image).toBe(`temporalio/admin-tools:${version}`);
  });

  test('gives every long-running service a health check and a restart policy; one-shots never restart', () => {
    expect(longRunning.sort()).toEqual(['codec', 'postgresql', 'temporal', 'ui', 'worker']);
    for (const name of longRunning) {
      const s = services[name]!;
      expect({ name, restart: s.restart }).toEqual({
        name,
        restart: expect.stringMatching(/^(always|unless-stopped|on-failure(:\d+)?)$/),
      });
      const test = s.healthcheck?.test;
      expect({ name, disabled: s.healthcheck?.disable ?? false }).toEqual({ name, disabled: false });
      expect({ name, test: Array.isArray(test) ? test[0] : test }).toEqual({
        name,
        test: expect.stringMatching(/^(CMD|CMD-SHELL)$/),
      });
    }
    for (const name of oneShots)
      expect({ name, restart: services[name]!.restart }).toEqual({ name, restart: 'no' });
  });

  test('orders start-up with conditions: schema before server, init before workers', () => {
    const conditions: Record<string, Record<string, string | undefined>> = {};
    for (const [name, s] of Object.entries(services)) {
      expect({ name, list: Array.isArray(s.depends_on) }).toEqual({ name, list: false });
      for (const [dep, d] of Object.entries(s.depends_on ?? {})) {
        (conditions[name] ??= {})[dep] = (d as { condition?: string }).condition;
        // A health condition on a service without a health check would never be met.
        if (d.condition === 'service_healthy') expect(services[dep]!.healthcheck).toBeDefined();
        expect(['service_healthy', 'service_completed_successfully']).toContain(d.condition);
      }
    }
    expect(conditions).toEqual({
      'temporal-schema': { postgresql: 'service_healthy' },
      temporal: { 'temporal-schema': 'service_completed_successfully' },
      'temporal-init': { temporal: 'service_healthy' },
      ui: { temporal: 'service_healthy' },
      worker: { 'temporal-init': 'service_completed_successfully' },
    });
  });

  test('the schema job creates and updates both databases with temporal-sql-tool and stops on an error', async () => {
    const script = await readFile(scriptOf('temporal-schema'), 'utf8');
    expect(script).toMatch(/^set -eu$/m);
    expect(script).not.toMatch(/\|\|\s*true/);
    for (const step of ['create', 'setup-schema -v 0.0', 'update-schema -d']) expect(script).toContain(step);
    expect(script).toMatch(/temporal-sql-tool --plugin postgres12/);
    expect(script).toMatch(/temporal_visibility/);
    expect(script).toMatch(/\$SCHEMA_ROOT\/\$schema\/versioned/);
  });

  test('never hides a failure with `|| true`', () => {
    expect(COMPOSE_TEXT).not.toMatch(/\|\|\s*true/);
    expect(readFileSync(scriptOf('temporal-init'), 'utf8')).not.toMatch(/\|\|\s*true/);
  });

  test('the init job registers exactly the search attributes the workflows publish', () => {
    const script = readFileSync(scriptOf('temporal-init'), 'utf8');
    const listed = /^ATTRIBUTES='([^']*)'$/m.exec(script)?.[1]?.split(/\s+/).sort();
    expect(listed).toEqual(
      Object.values(SEARCH_ATTRIBUTES)
        .map((a) => `${a.name}:${a.type}`)
        .sort(),
    );
  });

  test('workers mount the cloud config read-only and share no state volume', () => {
    const w = services.worker!;
    expect(w.volumes).toEqual(['./deploy/driftless.config.yaml:/etc/driftless/driftless.config.yaml:ro']);
    expect(w.environment?.DRIFTLESS_CONFIG).toBe('/etc/driftless/driftless.config.yaml');
    expect(COMPOSE_TEXT).not.toMatch(/examples\/driftless\.config\.yaml/);
    expect(w.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(w.healthcheck?.test).toEqual(expect.arrayContaining(['health']));
    expect(w.environment?.DRIFTLESS_HEALTH_FILE).toMatch(/^\//);
  });

  test('the codec endpoint requires a token from the environment and publishes on loopback only', () => {
    const c = services.codec!;
    const args = c.command!;
    expect(args.slice(0, 2)).toEqual(['codec', 'serve']);
    expect(args[args.indexOf('--token-env') + 1]).toBe('DRIFTLESS_CODEC_TOKEN');
    expect(args).not.toContain('--insecure-no-auth');
    expect(c.environment).toHaveProperty('DRIFTLESS_CODEC_TOKEN');
    expect(c.profiles).toEqual(['codec']);
  });

  test('binds every published port to 127.0.0.1', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const p of s.ports ?? [])
        expect({ name, port: p }).toEqual({ name, port: expect.stringMatching(/^127\.0\.0\.1:/) });
    }
  });
});

describe('deploy/temporal/init-namespace.sh against a fake temporal CLI', () => {
  // The fake keeps registered attributes in a file and prints them as the CLI's table does.
  const FAKE = `#!/bin/sh
state="$FAKE_STATE"
case "$1 $2 $3" in
  "operator cluster health") exit 0 ;;
  "operator namespace describe") exit 0 ;;
  "operator search-attribute list")
    [ -n "$FAKE_LIST_FAIL" ] && { echo "Error: unable to list" >&2; exit 1; }
    echo "                  Name                     Type    "
    echo "  WorkflowId                            Keyword    "
    cat "$state" 2>/dev/null
    exit 0 ;;
  "operator search-attribute create")
    [ -n "$FAKE_CREATE_FAIL" ] && { echo "Error: create refused" >&2; exit 1; }
    while [ $# -gt 0 ]; do
      case "$1" in --name) n="$2" ;; --type) t="$2" ;; esac
      shift
    done
    echo "  $n    $t    " >> "$state"
    echo "created $n" >> "$state.log"
    exit 0 ;;
esac
echo "unexpected: $*" >&2
exit 2
`;
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'driftless-init-test-'));
    await writeFile(join(dir, 'temporal'), FAKE);
    await chmod(join(dir, 'temporal'), 0o755);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function runInit(env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
    return new Promise((done) => {
      execFile(
        '/bin/sh',
        [scriptOf('temporal-init')],
        {
          env: {
            PATH: `${dir}${delimiter}${process.env.PATH}`,
            FAKE_STATE: join(dir, 'state'),
            TEMPORAL_INIT_ATTEMPTS: '1',
            ...env,
          },
        },
        (err, stdout, stderr) => done({ code: err ? Number(err.code ?? 1) : 0, out: stdout + stderr }),
      );
    });
  }
  const created = () => readFile(join(dir, 'state.log'), 'utf8').catch(() => '');

  test('registers every missing attribute, then is a no-op when run again', async () => {
    expect((await runInit()).code).toBe(0);
    expect((await created()).trim().split('\n')).toHaveLength(Object.keys(SEARCH_ATTRIBUTES).length);
    const again = await runInit();
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/DriftlessPhase \(Keyword\) exists/);
    expect((await created()).trim().split('\n')).toHaveLength(Object.keys(SEARCH_ATTRIBUTES).length);
  });

  test('keeps an attribute that exists with the same type', async () => {
    await writeFile(join(dir, 'state'), '  DriftlessPricePerHour                 Double     \n');
    const r = await runInit();
    expect(r.code).toBe(0);
    expect(await created()).not.toMatch(/DriftlessPricePerHour/);
  });

  test('fails when an attribute exists with another type', async () => {
    await writeFile(join(dir, 'state'), '  DriftlessRegion                       Int        \n');
    const r = await runInit();
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/DriftlessRegion exists as Int, driftless needs Keyword/);
  });

  test('fails when a registration fails', async () => {
    const r = await runInit({ FAKE_CREATE_FAIL: '1' });
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/create refused/);
  });

  test('fails when the attributes cannot be listed, instead of reading them as absent', async () => {
    const r = await runInit({ FAKE_LIST_FAIL: '1' });
    expect(r.code).not.toBe(0);
    expect(await created()).toBe('');
  });
});

/** A Docker Compose v2 command on this machine (DRIFTLESS_COMPOSE to name one), or undefined. */
function findCompose(): string[] | undefined {
  const candidates = [
    ...(process.env.DRIFTLESS_COMPOSE ? [process.env.DRIFTLESS_COMPOSE.split(' ')] : []),
    ['docker', 'compose'],
    ['docker-compose'],
  ];
  for (const c of candidates) {
    const r = spawnSync(c[0]!, [...c.slice(1), 'version', '--short'], { encoding: 'utf8' });
    // Compose v1 (Python) cannot read depends_on conditions such as service_completed_successfully.
    const major = Number(/^v?(\d+)/.exec(r.stdout?.trim() ?? '')?.[1] ?? 'NaN');
    if (r.status === 0 && (major >= 2 || r.stdout.trim() === 'dev')) return c;
  }
  return undefined;
}

describe('docker compose config', () => {
  const composeCmd = findCompose();
  const run = (env: Record<string, string>, ...args: string[]) =>
    spawnSync(composeCmd![0]!, [...composeCmd!.slice(1), '-f', join(ROOT, 'docker-compose.yml'), ...args], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    });

  if (!composeCmd) {
    console.log(
      'docker compose config: SKIPPED, no Docker Compose v2 found (tried $DRIFTLESS_COMPOSE, `docker compose`, `docker-compose`); the structural checks above still run',
    );
    test.skip('accepts the file (skipped: no Docker Compose v2 on PATH)', () => undefined);
    return;
  }

  test(`accepts the file with every profile (${composeCmd.join(' ')})`, () => {
    const r = run({ POSTGRES_PASSWORD: 'test-password' }, '--profile', 'codec', 'config', '--quiet');
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  });

  test('refuses to start without POSTGRES_PASSWORD', () => {
    const r = run({}, 'config', '--quiet');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/POSTGRES_PASSWORD/);
  });
});
