/**
 * The payload codec end to end: a worker, agents and a CLI sharing DRIFTLESS_CODEC_KEY, a real
 * dev server, and a workload whose spec carries a secret in its env.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { AesGcmCodec, ENCRYPTED_ENCODING, newCodecKey, parseCodecKey } from '../../src/codec/aes-gcm';
import { cli, serviceSpec, temporalClient, waitFor, workloadProcesses } from '../support/harness';
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
    const bad = await cli(['status', name], { ...e2e.env, DRIFTLESS_CODEC_KEY: 'not-a-key' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/DRIFTLESS_CODEC_KEY: expected 32 random bytes/);
    expect(bad.stderr).not.toContain('not-a-key');
  } finally {
    expect((await e2e.cli(['stop', name])).code).toBe(0);
  }
  await waitFor(() => workloadProcesses(name).length === 0, 'the workload to stop', 30_000);
});
