/**
 * The payload codec end to end: a worker, agents and a CLI sharing DRIFTLESS_CODEC_KEY, a real
 * dev server, and a workload whose spec carries a secret in its env; then the Web UI's codec
 * endpoint as `driftless dev` and `driftless codec serve` run it, token and all.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { AesGcmCodec, ENCRYPTED_ENCODING, newCodecKey, parseCodecKey } from '../../src/codec/aes-gcm';
import { payloadToJson } from '../../src/codec/payload-json';
import { freePort } from '../../src/common/free-port';
import {
  CLI,
  cli,
  processesWith,
  serviceSpec,
  temporalClient,
  waitFor,
  workloadProcesses,
} from '../support/harness';
import { useE2eInstallation } from '../support/e2e';

const KEY = newCodecKey();
// The worker and the CLI share the key; `withoutKey` is the CLI of someone who has none.
const e2e = useE2eInstallation({
  pools: [{ name: 'vault', pricePerGpuHour: 1 }],
  env: { DRIFTLESS_CODEC_KEY: KEY },
});
const withoutKey = () => ({ ...e2e.env, DRIFTLESS_CODEC_KEY: undefined });

/**
 * Every payload in a history (inputs, results, memo, ...). `readable` says why one may stay in
 * clear: a search attribute's value (the server indexes it), or a patch marker's (the SDK's core
 * writes the patch id there, never user data).
 */
type Readable = 'search attribute' | 'patch marker';
function payloadsIn(
  v: unknown,
  readable?: Readable,
  out: Array<Payload & { readable?: Readable }> = [],
): Array<Payload & { readable?: Readable }> {
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return out;
  const o = v as Record<string, unknown>;
  if (o.data instanceof Uint8Array && o.metadata !== null && typeof o.metadata === 'object') {
    out.push({ ...(o as Payload), readable });
    return out;
  }
  const here = o.markerName === 'core_patch' ? 'patch marker' : readable;
  for (const [k, x] of Object.entries(o)) {
    payloadsIn(x, k === 'searchAttributes' ? 'search attribute' : here, out);
  }
  return out;
}

const encodingOf = (p: Payload) => Buffer.from(p.metadata?.encoding ?? []).toString('utf8');

test("a secret in the spec's env reaches the workload, and Temporal's history holds it only encrypted", async () => {
  const name = 'codec-secret';
  const secret = `hunter2-${randomBytes(6).toString('hex')}`;
  try {
    await e2e.apply(serviceSpec(name, { env: { API_TOKEN: secret } }));
    const s = await e2e.waitRunning(name);
    expect(s.status?.timeline.map((e) => e.type)).toContain('running');

    // The agent decoded its arguments: the workload runs with the secret in its environment.
    const [pid] = workloadProcesses(name);
    expect(pid).toBeDefined();
    expect(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')).toContain(`API_TOKEN=${secret}`);

    // The history as the server stores it, read without the key.
    const client = await temporalClient();
    try {
      const history = await client.workflow.getHandle(`workload-${name}`).fetchHistory();
      const bytes = Buffer.from(temporal.api.history.v1.History.encode(history).finish());
      expect(bytes.includes(secret)).toBe(false);
      const payloads = payloadsIn(history);
      const encrypted = payloads.filter((p) => encodingOf(p) === ENCRYPTED_ENCODING);
      // The start input, activity arguments and results: all encrypted.
      expect(encrypted.length).toBeGreaterThan(5);
      // Only search attributes (phase, provider, region, GPU, price) stay readable, and patch ids.
      expect(payloads.filter((p) => p.readable === 'search attribute').length).toBeGreaterThan(0);
      expect(payloads.filter((p) => encodingOf(p) !== ENCRYPTED_ENCODING && !p.readable)).toEqual([]);
      // It is in there: decrypting with the key finds it.
      const decoded = await new AesGcmCodec([parseCodecKey(KEY, 'test')]).decode(encrypted);
      expect(decoded.some((p) => Buffer.from(p.data!).includes(secret))).toBe(true);
    } finally {
      await client.connection.close();
    }

    // Without the key the CLI says what to set; with a malformed one it names the variable.
    const bare = await cli(['status', name], withoutKey());
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/encrypted \(key [0-9a-f]{16}\) and DRIFTLESS_CODEC_KEY is not set/);
    // ls reads no encrypted payload: it lists the workload without the key (a namespace shared
    // with an installation of another key, or an operator without it, still gets its list).
    const listed = await cli(['ls', '--json'], withoutKey());
    expect(listed.code).toBe(0);
    const row = (JSON.parse(listed.stdout) as Array<{ name: string; phase: string }>).find(
      (w) => w.name === name,
    );
    expect(row?.phase).toBe('RUNNING');
    const costs = await cli(['cost', '--json'], withoutKey());
    expect(costs.code).toBe(0);
    expect(
      (JSON.parse(costs.stdout) as { workloads: Array<{ name: string }> }).workloads.map((w) => w.name),
    ).toContain(name);
    const bad = await cli(['status', name], { ...e2e.env, DRIFTLESS_CODEC_KEY: 'not-a-key' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/DRIFTLESS_CODEC_KEY: expected 32 random bytes/);
    expect(bad.stderr).not.toContain('not-a-key');
  } finally {
    expect((await e2e.cli(['stop', name])).code).toBe(0);
  }
  await waitFor(() => workloadProcesses(name).length === 0, 'the workload to stop', 30_000);
});

/** Runs the CLI as a long-lived child; `out` is its stdout and stderr so far. */
function spawnCli(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const run = { child, out: '', exited: new Promise<number | null>((r) => child.once('exit', (c) => r(c))) };
  child.stdout.on('data', (d) => (run.out += d));
  child.stderr.on('data', (d) => (run.out += d));
  return run;
}

/** POSTs one payload this key encrypted to `url`; the status and, on a 200, the value decoded. */
async function decodeVia(url: string, headers: Record<string, string> = {}) {
  const codec = new AesGcmCodec([parseCodecKey(KEY, 'test')]);
  const [enc] = await codec.encode([defaultPayloadConverter.toPayload('decoded for the UI')!]);
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers },
    body: JSON.stringify({ payloads: [payloadToJson(enc!)] }),
  });
  if (res.status !== 200) return { status: res.status, auth: res.headers.get('www-authenticate') };
  const { payloads } = (await res.json()) as { payloads: Array<{ data: string }> };
  return {
    status: res.status,
    value: JSON.parse(Buffer.from(payloads[0]!.data, 'base64').toString()) as unknown,
  };
}

test('dev gives the Web UI a codec endpoint that carries a token of this run; the bare endpoint answers 401', async () => {
  const [port, uiPort] = [await freePort(), await freePort()];
  const dev = spawnCli(['dev', '--no-worker', '--port', String(port), '--ui-port', String(uiPort)], e2e.env);
  try {
    await waitFor(
      () => dev.out.includes('Ctrl-C stops the server'),
      `dev to start; output so far:\n${dev.out}`,
      90_000,
    );
    const printed = /the Web UI decodes via (http:\/\/127\.0\.0\.1:\d+)\/<token>/.exec(dev.out)?.[1];
    expect(printed).toBeDefined();
    const settings = (await (await fetch(`http://127.0.0.1:${uiPort}/api/v1/settings`)).json()) as {
      Codec: { Endpoint: string };
    };
    const endpoint = settings.Codec.Endpoint;
    const token = endpoint.slice(`${printed}/`.length);
    expect(endpoint.startsWith(`${printed}/`)).toBe(true);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 random bytes, base64url
    expect(dev.out).not.toContain(token);

    // Without the token (as anything but the UI would call it): refused.
    expect(await decodeVia(`${printed}/decode`, { origin: `http://localhost:${uiPort}` })).toEqual({
      status: 401,
      auth: expect.stringMatching(/^Bearer/),
    });
    // As the UI calls it, `<endpoint>/decode` from its origin: decoded.
    expect(await decodeVia(`${endpoint}/decode`, { origin: `http://localhost:${uiPort}` })).toEqual({
      status: 200,
      value: 'decoded for the UI',
    });
    dev.child.kill('SIGINT');
    expect(await dev.exited).toBe(0);
  } finally {
    dev.child.kill('SIGKILL');
    for (const pid of processesWith('start-dev', '--port', String(port))) process.kill(pid, 'SIGKILL');
  }
});

test('codec serve --token-env answers only requests with the token and never prints it', async () => {
  const port = await freePort();
  const token = randomBytes(24).toString('hex');
  const serve = spawnCli(['codec', 'serve', '--port', String(port), '--token-env', 'CODEC_TOKEN'], {
    ...e2e.env,
    CODEC_TOKEN: token,
  });
  try {
    await waitFor(
      () => serve.out.includes('Ctrl-C stops it'),
      `codec serve to start; output so far:\n${serve.out}`,
      30_000,
    );
    const url = `http://127.0.0.1:${port}`;
    expect(serve.out).toContain(
      `bearer token from CODEC_TOKEN; the Web UI's codec endpoint is ${url}/<token>`,
    );
    expect(serve.out).not.toContain(token);
    expect(await decodeVia(`${url}/decode`)).toMatchObject({ status: 401 });
    expect(await decodeVia(`${url}/decode`, { authorization: `Bearer ${token}x` })).toMatchObject({
      status: 401,
    });
    expect(await decodeVia(`${url}/decode`, { authorization: `Bearer ${token}` })).toMatchObject({
      status: 200,
    });
    expect(await decodeVia(`${url}/${token}/decode`)).toMatchObject({
      status: 200,
      value: 'decoded for the UI',
    });
    serve.child.kill('SIGINT');
    expect(await serve.exited).toBe(0);
  } finally {
    serve.child.kill('SIGKILL');
  }
});
