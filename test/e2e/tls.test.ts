/**
 * driftless against a secured Temporal: nginx terminates TLS in front of the dev server, as a
 * production cluster or Temporal Cloud would. The worker, the CLI and the local agents connect
 * through it with the test's certificates (mTLS), and again with an API key; a workload runs and
 * fails over; wrong credentials and a missing certificate are clear errors with exit 2.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentsOf, cli, serviceSpec, temporalAddress, type StatusJson } from '../support/harness';
import { useE2eInstallation, type E2eInstallation } from '../support/e2e';
import { makeCerts, startTlsFront, type TestCerts, type TlsFront } from '../support/tls-front';

const API_KEY = `driftless-test-key-${process.pid}-${Date.now().toString(36)}`;

type Mode = 'mtls' | 'api-key';

function useSecuredInstallation(mode: Mode): {
  e2e: E2eInstallation;
  front: () => TlsFront;
  certs: () => TestCerts;
} {
  let front: TlsFront | undefined;
  let certs: TestCerts | undefined;
  const e2e = useE2eInstallation({
    pools: [
      { name: 'near', pricePerGpuHour: 1 },
      { name: 'far', pricePerGpuHour: 2 },
    ],
    timeoutMs: 180_000,
    async setup(installation) {
      certs = await makeCerts(join(installation.dir, 'certs'));
      front = await startTlsFront({
        dir: join(installation.dir, 'nginx'),
        upstream: temporalAddress(),
        certs,
        apiKey: mode === 'api-key' ? API_KEY : undefined,
      });
      const credentials =
        mode === 'mtls'
          ? { TEMPORAL_TLS_CLIENT_CERT_PATH: certs.clientCert, TEMPORAL_TLS_CLIENT_KEY_PATH: certs.clientKey }
          : { TEMPORAL_API_KEY: API_KEY };
      return {
        env: {
          TEMPORAL_ADDRESS: front.address,
          TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caCert,
          TEMPORAL_TLS_SERVER_NAME: 'localhost',
          ...credentials,
        },
      };
    },
    teardown: async () => front?.stop(),
  });
  return { e2e, front: () => front!, certs: () => certs! };
}

/** The agent's environment, as the kernel holds it (NUL-separated). */
function environOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
}

describe.each<[string, Mode]>([
  ['mTLS', 'mtls'],
  ['API key', 'api-key'],
])('through a TLS front with %s', (_label, mode) => {
  const { e2e, front, certs } = useSecuredInstallation(mode);

  test('the worker, the CLI and a local agent connect through it; a workload runs and fails over', async () => {
    const name = `tls-${mode}`;
    e2e.stopAtEnd(name);
    const applied = await e2e.apply(serviceSpec(name), '--wait', '--timeout', '90s', '--json');
    const before = JSON.parse(applied.stdout) as StatusJson;
    expect(before.phase).toBe('RUNNING');
    // The local agent was given the worker's own connection: the front, with its credentials.
    const [agent] = agentsOf(name);
    expect(agent).toBeDefined();
    const env = environOf(agent!);
    expect(env).toContain(`TEMPORAL_ADDRESS=${front().address}`);
    expect(env).toContain('TEMPORAL_TLS=true');
    if (mode === 'api-key') expect(env).toContain(`TEMPORAL_API_KEY=${API_KEY}`);
    else expect(env.some((e) => e.startsWith('TEMPORAL_TLS_CLIENT_CERT_DATA=-----BEGIN'))).toBe(true);
    // Fail over: the agent dies, the workflow (through the front) places it on the other pool.
    process.kill(agent!, 'SIGKILL');
    const after = await e2e.waitRunning(name, { not: before.instanceId, timeoutMs: 90_000 });
    expect(after.pool).not.toBe(before.pool);
    expect(after.status?.recoveries).toBe(1);
    const [second] = agentsOf(name);
    expect(environOf(second!)).toContain(`TEMPORAL_ADDRESS=${front().address}`);
  });

  test('wrong credentials are a clear error with exit 2, for the CLI and for the worker', async () => {
    const wrong =
      mode === 'api-key'
        ? { TEMPORAL_API_KEY: 'not-the-key' }
        : {
            TEMPORAL_TLS_CLIENT_CERT_PATH: certs().strangerCert,
            TEMPORAL_TLS_CLIENT_KEY_PATH: certs().strangerKey,
          };
    const env = { ...e2e.env, ...wrong };
    const status = await cli(['ls'], env, 60_000);
    expect({ code: status.code, stderr: status.stderr }).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/refused the connection's credentials/),
    });
    expect(status.stderr).not.toMatch(/unexpected error|a bug/);
    // The worker exits (it does not hang) with the same message.
    const worker = await cli(['worker'], env, 60_000);
    expect(worker.code).toBe(2);
    expect(worker.stderr).toMatch(/refused the connection's credentials/);
  });

  test('no credentials at all are refused with exit 2', async () => {
    const {
      TEMPORAL_API_KEY: _k,
      TEMPORAL_TLS_CLIENT_CERT_PATH: _c,
      TEMPORAL_TLS_CLIENT_KEY_PATH: _ck,
      ...env
    } = e2e.env;
    const r = await cli(['ls'], env, 60_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refused the connection's credentials/);
  });

  test('a missing certificate file is a clear error with exit 2 naming it, for the CLI and the worker', async () => {
    const missing = join(e2e.dir, 'certs', 'gone.pem');
    const env = {
      ...e2e.env,
      TEMPORAL_TLS_CLIENT_CERT_PATH: missing,
      TEMPORAL_TLS_CLIENT_KEY_PATH: certs().clientKey,
    };
    for (const args of [['ls'], ['worker']]) {
      const r = await cli(args, env, 60_000);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain(`TEMPORAL_TLS_CLIENT_CERT: cannot read ${missing} (ENOENT)`);
      expect(r.stderr).not.toMatch(/unexpected error|at .*\.js:\d+/);
    }
  });
});
