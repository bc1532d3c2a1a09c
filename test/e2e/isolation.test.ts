/**
 * Workload isolation end to end (issue 13): a worker holding secrets in its environment (a
 * Hugging Face token, a Temporal API key, the payload codec key, an AWS secret key) and local
 * pools whose workloads run as another user (runAs), one with an agent per instance and one in
 * scale mode (agents: shared). Each workload prints its environment and tries to read its agent's
 * environment (/proc/$PPID/environ) and files; none of the secret values shows in what it printed.
 */
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { newCodecKey } from '../../src/codec/aes-gcm';
import { useE2eInstallation } from '../support/e2e';
import { cannotRunAsAnotherUser, ensureTestUser, TEST_WORKLOAD_USER } from '../support/test-user';

/** Distinctive values: any of them in the workload's output is a leak. */
const token = (what: string) =>
  `${what}-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
const SECRETS = {
  HF_TOKEN: token('hf'),
  TEMPORAL_API_KEY: token('temporal'),
  AWS_SECRET_ACCESS_KEY: token('aws'),
  DRIFTLESS_CODEC_KEY: newCodecKey(),
};

const why = cannotRunAsAnotherUser();
const POOLS = ['iso-process', 'iso-shared'] as const;

const e2e = why
  ? undefined
  : useE2eInstallation({
      pools: [
        { name: POOLS[0], runAs: TEST_WORKLOAD_USER },
        { name: POOLS[1], runAs: TEST_WORKLOAD_USER, agents: 'shared' },
      ],
      // The dev server takes no API key; TEMPORAL_TLS=false keeps the connection plaintext with one.
      env: {
        HF_TOKEN: SECRETS.HF_TOKEN,
        AWS_SECRET_ACCESS_KEY: SECRETS.AWS_SECRET_ACCESS_KEY,
        DRIFTLESS_CODEC_KEY: SECRETS.DRIFTLESS_CODEC_KEY,
        TEMPORAL_API_KEY: SECRETS.TEMPORAL_API_KEY,
        TEMPORAL_TLS: 'false',
      },
    });

/**
 * What the workload does: print its ids and environment, then try its agent's (or agent host's)
 * environment and every file the agent and the provider keep for the instance and the pool.
 */
function script(stateDir: string, pool: string): string {
  const instance = `${stateDir}/local/instances/$DRIFTLESS_INSTANCE_ID`;
  const host = `${stateDir}/local/hosts/${pool}`;
  return [
    'echo "uid=$(id -u) ppid=$PPID cwd=$(pwd)"',
    'echo "== env"; env',
    'echo "== agent environ"; tr "\\0" "\\n" < /proc/$PPID/environ',
    `for f in ${instance}/agent.json ${instance}/agent.log ${instance}/instance.json ../agent.json ../agent.log ../workload.log ${host}/host.log ${host}/host.json; do echo "== $f"; cat "$f"; done`,
    'echo "== done"',
    'exec sleep 600',
  ].join('\n');
}

(why ? test.skip : test)(
  `a workload run as another user sees none of the worker's or its agent's secrets${why ? ` (skipped: ${why})` : ''}`,
  async () => {
    const user = ensureTestUser();
    const installation = e2e!;
    // Only driftless's own modes keep the workload out: the test's directory (0700, from
    // mkdtemp) would keep it out of everything anyway.
    chmodSync(installation.dir, 0o755);
    const stateDir = join(installation.dir, 'state');
    const names = POOLS.map((pool) => `iso-${pool.replace('iso-', '')}`);
    for (const name of names) installation.stopAtEnd(name);
    for (const [i, pool] of POOLS.entries()) {
      const spec = {
        name: names[i]!,
        kind: 'service',
        command: ['sh', '-c', script(stateDir, pool)],
        resources: { gpu: { type: 'A100', count: 1 } },
        placement: { regions: [pool] },
        health: { heartbeatTimeout: '5s', startupGrace: '30s' },
      };
      await installation.apply(spec);
    }
    for (const [i, name] of names.entries()) {
      const s = await installation.waitRunning(name, { timeoutMs: 90_000 });
      expect(s.pool).toBe(POOLS[i]);
      const log = join(stateDir, 'local/instances', s.instanceId!, 'workload.log');
      const printed = await waitForText(log, '== done');
      const ppid = Number(/ppid=(\d+)/.exec(printed)?.[1]);

      // It ran as the other user, in a directory of its own, and really tried each read.
      expect(printed).toContain(`uid=${user.uid} `);
      expect(printed).toContain(`cwd=${join(stateDir, 'local/instances', s.instanceId!, 'work')}`);
      expect(printed).toMatch(/\/proc\/\d+\/environ: Permission denied/);
      expect(printed.match(/Permission denied/g)?.length).toBeGreaterThanOrEqual(9);
      // Its environment: the allowlist and driftless's own, nothing else.
      const env = envSection(printed);
      expect(env).toMatchObject({ HOME: user.home, USER: TEST_WORKLOAD_USER, DRIFTLESS_WORKLOAD: name });
      expect(
        Object.keys(env).filter((k) => /^(TEMPORAL_|AWS_|HF_)/.test(k) || k === 'DRIFTLESS_CODEC_KEY'),
      ).toEqual([]);
      // The secrets were there to be taken: the agent (read as root) holds the codec key and the
      // Temporal API key.
      const agentEnviron = readFileSync(`/proc/${ppid}/environ`, 'utf8');
      expect(agentEnviron).toContain(SECRETS.DRIFTLESS_CODEC_KEY);
      expect(agentEnviron).toContain(SECRETS.TEMPORAL_API_KEY);
      for (const [variable, value] of Object.entries(SECRETS)) {
        expect({ variable, leaked: printed.includes(value) }).toEqual({ variable, leaked: false });
      }
    }
    for (const name of names) expect((await installation.cli(['stop', name])).code).toBe(0);
  },
  180_000,
);

/** The file's text once it contains `marker`. */
async function waitForText(file: string, marker: string, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = (() => {
      try {
        return readFileSync(file, 'utf8');
      } catch {
        return '';
      }
    })();
    if (text.includes(marker)) return text;
    if (Date.now() > deadline) throw new Error(`${file} never said "${marker}"; it has:\n${text}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** NAME=value lines between "== env" and the next section. */
function envSection(printed: string): Record<string, string> {
  const lines = printed.split('== env\n')[1]!.split('\n== ')[0]!.split('\n');
  return Object.fromEntries(
    lines
      .filter((l) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}
