/**
 * The boot script, decoded and also run: bash against a fake IMDSv2 on loopback, with the agent
 * command replaced by one that records its environment.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildUserData, MAX_USER_DATA_BYTES, userDataScript } from '../../../src/providers/aws/user-data';

const run = promisify(execFile);

const opts = {
  temporalAddress: 'temporal.example:7233',
  temporalNamespace: "team's-ns",
  workload: 'train',
  agentInstall: 'npm install -g https://example.com/driftless-0.1.0.tgz',
  agentCommand: 'node "$(npm root -g)/driftless/dist/agent/main.js"',
  deadManTimeout: '600000ms',
};

/** A fake instance metadata service that only answers IMDSv2 (token first). */
async function fakeImds(instanceId: string): Promise<{ endpoint: string; server: Server; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    if (
      req.method === 'PUT' &&
      req.url === '/latest/api/token' &&
      req.headers['x-aws-ec2-metadata-token-ttl-seconds']
    ) {
      res.end('tok-123');
    } else if (
      req.method === 'GET' &&
      req.url === '/latest/meta-data/instance-id' &&
      req.headers['x-aws-ec2-metadata-token'] === 'tok-123'
    ) {
      res.end(instanceId);
    } else {
      res.statusCode = 401;
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address() as { port: number };
  return { endpoint: `http://127.0.0.1:${addr.port}`, server, hits };
}

describe('buildUserData', () => {
  test('is base64 of a bash script that sets the Temporal connection and reads the instance id from IMDSv2', () => {
    const script = Buffer.from(buildUserData(opts), 'base64').toString('utf8');
    expect(script).toBe(userDataScript(opts));
    expect(script.startsWith('#!/bin/bash\n')).toBe(true);
    expect(script).toContain("export TEMPORAL_ADDRESS='temporal.example:7233'");
    expect(script).toContain("export TEMPORAL_NAMESPACE='team'\\''s-ns'");
    expect(script).toContain('X-aws-ec2-metadata-token-ttl-seconds');
    expect(script).toContain('npm install -g https://example.com/driftless-0.1.0.tgz');
    expect(Buffer.byteLength(script)).toBeLessThan(MAX_USER_DATA_BYTES);
  });

  test('skips the install when the image already has the agent', () => {
    const script = userDataScript({ ...opts, agentInstall: '' });
    expect(script).not.toContain('npm install');
    expect(script).toContain(': # the image has the agent');
  });

  describe('run by bash', () => {
    let dir: string;
    let imds: Awaited<ReturnType<typeof fakeImds>>;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'driftless-userdata-'));
      imds = await fakeImds('i-0feedface0000001');
    });
    afterEach(async () => {
      await new Promise((r) => imds.server.close(r));
      await rm(dir, { recursive: true, force: true });
    });

    test('installs, then starts the agent with TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and the instance id from IMDS', async () => {
      const script = userDataScript({
        ...opts,
        agentInstall: 'echo installed > install.txt',
        agentCommand: 'env > agent-env.txt; pwd > agent-cwd.txt',
      });
      const file = join(dir, 'user-data.sh');
      await writeFile(file, script);
      await run('bash', [file], {
        env: {
          PATH: process.env.PATH,
          DRIFTLESS_IMDS_ENDPOINT: imds.endpoint,
          DRIFTLESS_INSTANCE_DIR: dir,
          DRIFTLESS_AGENT_FOREGROUND: '1',
          // No workload user: the script must not add users or firewall rules to this machine.
          DRIFTLESS_WORKLOAD_USER: '',
        },
        timeout: 20_000,
      });
      expect(await readFile(join(dir, 'install.txt'), 'utf8')).toBe('installed\n');
      const env = Object.fromEntries(
        (await readFile(join(dir, 'agent-env.txt'), 'utf8'))
          .split('\n')
          .filter((l) => l.includes('='))
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      );
      expect(env).toMatchObject({
        TEMPORAL_ADDRESS: 'temporal.example:7233',
        TEMPORAL_NAMESPACE: "team's-ns",
        DRIFTLESS_INSTANCE_ID: 'i-0feedface0000001',
        DRIFTLESS_WORKLOAD: 'train',
        DRIFTLESS_INSTANCE_DIR: dir,
        // The dead-man's switch: its timeout, and on a cloud machine a shutdown when it fires.
        DRIFTLESS_DEAD_MAN_TIMEOUT: '600000ms',
        DRIFTLESS_SHUTDOWN_COMMAND: 'shutdown -h now',
      });
      expect((await readFile(join(dir, 'agent-cwd.txt'), 'utf8')).trim()).toBe(dir);
      expect(imds.hits).toEqual(['PUT /latest/api/token', 'GET /latest/meta-data/instance-id']);
    });

    test('stops before starting the agent when the install fails', async () => {
      const script = userDataScript({ ...opts, agentInstall: 'false', agentCommand: 'touch started' });
      const file = join(dir, 'user-data.sh');
      await writeFile(file, script);
      await expect(
        run('bash', [file], {
          env: {
            PATH: process.env.PATH,
            DRIFTLESS_INSTANCE_ID: 'i-1',
            DRIFTLESS_INSTANCE_DIR: dir,
            DRIFTLESS_WORKLOAD_USER: '',
          },
          timeout: 20_000,
        }),
      ).rejects.toThrow();
      await expect(readFile(join(dir, 'started'))).rejects.toThrow();
      expect(imds.hits).toEqual([]);
    });
  });
});
