import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { Connection } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { AesGcmCodec, newCodecKey, parseCodecKey } from '../../src/codec/aes-gcm';
import { payloadToJson } from '../../src/codec/payload-json';
import { SEARCH_ATTRIBUTES } from '../../src/common/names';
import { freePort } from '../../src/common/free-port';
import {
  agentsOf,
  CLI,
  cli,
  processesWith,
  processesWithEnv,
  serviceSpec,
  waitFor,
  workloadProcesses,
  worksUnder,
  writeSpec,
} from '../support/harness';
import { useE2eInstallation } from '../support/e2e';

// `dev` runs a worker of its own.
const e2e = useE2eInstallation({ pools: [{ name: 'p' }], worker: false });

function httpStatus(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', timeout: 3000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

test('dev starts a server with the search attributes, the Web UI and a worker; SIGINT stops both and exits 0', async () => {
  const [port, uiPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [CLI, 'dev', '--port', String(port), '--ui-port', String(uiPort)], {
    env: e2e.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    await waitFor(() => out.includes('worker polling'), `dev to start; output so far:\n${out}`, 90_000);
    const conn = await Connection.connect({ address: `127.0.0.1:${port}` });
    try {
      const res = await conn.operatorService.listSearchAttributes({ namespace: 'default' });
      for (const a of Object.values(SEARCH_ATTRIBUTES))
        expect(Object.keys(res.customAttributes ?? {})).toContain(a.name);
    } finally {
      await conn.close();
    }
    expect(await waitFor(() => httpStatus(uiPort), 'the Web UI', 30_000)).toBe(200);
    expect(processesWith('start-dev', '--port', String(port))).toHaveLength(1);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    await waitFor(
      () => processesWith('start-dev', '--port', String(port)).length === 0,
      'the server to exit',
      15_000,
    );
  } finally {
    child.kill('SIGKILL');
  }
});

test("Ctrl-C to dev's whole process group with a workload running stops the worker, then the server, in under 10 s, without a flood of warnings", async () => {
  const [port, uiPort] = [await freePort(), await freePort()];
  const name = 'dev-ctrl-c';
  // Its own process group, as a terminal's foreground job: Ctrl-C signals the whole group.
  const child = spawn(process.execPath, [CLI, 'dev', '--port', String(port), '--ui-port', String(uiPort)], {
    env: e2e.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const env = { ...e2e.env, TEMPORAL_ADDRESS: `127.0.0.1:${port}` };
  try {
    await waitFor(() => out.includes('worker polling'), `dev to start; output so far:\n${out}`, 90_000);
    const r = await cli(
      ['apply', await writeSpec(e2e, serviceSpec(name)), '--wait', '--timeout', '60s'],
      env,
    );
    expect(r.code).toBe(0);
    const sentAt = Date.now();
    process.kill(-child.pid!, 'SIGINT');
    expect(await exited).toBe(0);
    const tookMs = Date.now() - sentAt;
    console.log(`dev stopped ${tookMs} ms after Ctrl-C`);
    expect(tookMs).toBeLessThan(10_000);
    expect(out.match(/tcp connect error/gi)?.length ?? 0).toBeLessThan(3);
    expect(out).toMatch(/stopping the worker, then the server/);
    expect(out).toMatch(/agents on local pools keep running/);
    expect(processesWith('start-dev', '--port', String(port))).toHaveLength(0);
  } finally {
    child.kill('SIGKILL');
    for (const pid of [...agentsOf(name), ...workloadProcesses(name)]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const pid of processesWith('start-dev', '--port', String(port))) process.kill(pid, 'SIGKILL');
  }
});

test('dev with DRIFTLESS_CODEC_KEY serves a codec endpoint and points the Web UI at it', async () => {
  const [port, uiPort] = [await freePort(), await freePort()];
  const key = newCodecKey();
  const child = spawn(
    process.execPath,
    [CLI, 'dev', '--no-worker', '--port', String(port), '--ui-port', String(uiPort)],
    { env: { ...e2e.env, DRIFTLESS_CODEC_KEY: key }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    await waitFor(
      () => out.includes('Ctrl-C stops the server'),
      `dev to start; output so far:\n${out}`,
      90_000,
    );
    const base = /the Web UI decodes via (http:\/\/127\.0\.0\.1:\d+)\/<token>/.exec(out)?.[1];
    expect(base).toBeDefined();
    expect(out).toContain(`payloads encrypted (key ${parseCodecKey(key, 'k').id})`);
    const settings = (await (await fetch(`http://127.0.0.1:${uiPort}/api/v1/settings`)).json()) as {
      Codec: { Endpoint: string };
    };
    // The UI's endpoint carries this run's token (the UI cannot send a header of ours).
    const endpoint = settings.Codec.Endpoint;
    expect(endpoint).toMatch(new RegExp(`^${base}/[A-Za-z0-9_-]{43}$`));
    // The endpoint decodes what this key encoded, for the UI's origin.
    const codec = new AesGcmCodec([parseCodecKey(key, 'k')]);
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload('decoded for the UI')!]);
    const res = await fetch(`${endpoint}/decode`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: `http://localhost:${uiPort}` },
      body: JSON.stringify({ payloads: [payloadToJson(enc!)] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(`http://localhost:${uiPort}`);
    const { payloads } = (await res.json()) as { payloads: Array<{ data: string }> };
    expect(JSON.parse(Buffer.from(payloads[0]!.data, 'base64').toString())).toBe('decoded for the UI');
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    await expect(fetch(`${endpoint}/decode`, { method: 'POST', body: '{}' })).rejects.toThrow();
  } finally {
    child.kill('SIGKILL');
  }
});

/** Runs `driftless demo`; `onStdout` may act on the output as it arrives. */
function runDemo(onStdout?: (all: string, child: ReturnType<typeof spawn>) => void) {
  const child = spawn(process.execPath, [CLI, 'demo'], {
    env: { ...process.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
    onStdout?.(stdout, child);
  });
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((r) =>
    child.once('close', (code) => r({ code, stdout, stderr })),
  );
}

/** Nothing the demo started is left: server on its port, agents, the workload. */
async function expectNothingLeft(stdout: string) {
  const port = /dev server on 127\.0\.0\.1:(\d+)/.exec(stdout)?.[1];
  expect(port).toBeDefined();
  // This demo's processes only: another run's demo on this machine has its own state directory.
  const stateDir = /\(state in (\S+)\)/.exec(stdout)?.[1];
  expect(stateDir).toBeDefined();
  const ours = (pids: number[]) => pids.filter((pid) => worksUnder(pid, stateDir!));
  await waitFor(
    () =>
      processesWith('start-dev', '--port', port!).length === 0 &&
      ours(processesWith('--workload', 'hello-web')).length === 0 &&
      ours(processesWithEnv('DRIFTLESS_WORKLOAD=hello-web')).length === 0,
    'every demo process to be gone',
    10_000,
  );
}

test('the demo fails a service over between pools, prints the timeline and leaves no process behind', async () => {
  const { code, stdout, stderr } = await runDemo();
  if (code !== 0)
    throw new Error(`the demo exited ${code}; its stderr:\n${stderr.slice(-4000)}\nstdout:\n${stdout}`);
  expect(stdout).toMatch(/RUNNING on pool lab-a/);
  expect(stdout).toMatch(/recovered: RUNNING on pool lab-b/);
  expect(stdout).toMatch(/lost .* on local\/lab-a/);
  expect(stdout).toMatch(/STOPPED; workflow COMPLETED/);
  expect(stdout).toMatch(/Web UI .*http:\/\/127\.0\.0\.1:\d+/);
  await expectNothingLeft(stdout);
});

test('Ctrl-C during the demo cleans up everything it started and exits 130', async () => {
  let sent = false;
  const { code, stdout } = await runDemo((out, child) => {
    if (!sent && /RUNNING on pool lab-a/.test(out)) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  expect(sent).toBe(true);
  expect(code).toBe(130);
  await expectNothingLeft(stdout);
});
