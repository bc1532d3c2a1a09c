import { randomBytes } from 'node:crypto';
import type { Payload } from '@temporalio/common';
import { defaultPayloadConverter } from '@temporalio/common';
import {
  AesGcmCodec,
  CodecError,
  ENCRYPTED_ENCODING,
  codecFromEnv,
  codecKeysFromEnv,
  newCodecKey,
  parseCodecKey,
} from '../../src/codec/aes-gcm';

const SECRET = 'hunter2-do-not-log';
const key = () => parseCodecKey(newCodecKey(), 'test');
const payloadOf = (v: unknown): Payload => defaultPayloadConverter.toPayload(v)!;
const valueOf = (p: Payload) => defaultPayloadConverter.fromPayload(p);
const bytesOf = (p: Payload) =>
  Buffer.concat([
    ...Object.entries(p.metadata ?? {}).flatMap(([k, v]) => [Buffer.from(k), Buffer.from(v ?? [])]),
    Buffer.from(p.data ?? []),
  ]);
const meta = (p: Payload, k: string) => Buffer.from(p.metadata?.[k] ?? []).toString('utf8');

describe('AesGcmCodec', () => {
  test('round-trips payloads, metadata included, and leaves neither the value nor its encoding readable', async () => {
    const codec = new AesGcmCodec([key()]);
    const original = [payloadOf({ env: { TOKEN: SECRET } }), payloadOf(null), payloadOf('plain')];
    const encoded = await codec.encode(original);
    for (const p of encoded) {
      expect(meta(p, 'encoding')).toBe(ENCRYPTED_ENCODING);
      expect(meta(p, 'encryption-key-id')).toBe(codec.keyId);
      expect(bytesOf(p).includes(SECRET)).toBe(false);
      expect(bytesOf(p).includes('json/plain')).toBe(false);
    }
    const decoded = await codec.decode(encoded);
    expect(decoded.map(valueOf)).toEqual([{ env: { TOKEN: SECRET } }, null, 'plain']);
    expect(decoded.map((p) => meta(p, 'encoding'))).toEqual(original.map((p) => meta(p, 'encoding')));
  });

  test('encrypts the same payload differently each time (a fresh IV per payload)', async () => {
    const codec = new AesGcmCodec([key()]);
    const [a, b] = await codec.encode([payloadOf(SECRET), payloadOf(SECRET)]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
  });

  test('without a key it passes payloads through both ways', async () => {
    const codec = new AesGcmCodec();
    expect(codec.encrypting).toBe(false);
    const p = [payloadOf({ a: 1 })];
    expect(await codec.encode(p)).toBe(p);
    expect(await codec.decode(p)).toEqual(p);
  });

  test('decodes payloads that were never encrypted, beside encrypted ones', async () => {
    const codec = new AesGcmCodec([key()]);
    const [enc] = await codec.encode([payloadOf('secret')]);
    expect((await codec.decode([payloadOf('old'), enc!])).map(valueOf)).toEqual(['old', 'secret']);
  });

  test('an encrypted payload and no key: the error says which variable to set', async () => {
    const [enc] = await new AesGcmCodec([key()]).encode([payloadOf(SECRET)]);
    await expect(new AesGcmCodec().decode([enc!])).rejects.toThrow(
      /this data is encrypted \(key [0-9a-f]{16}\) and DRIFTLESS_CODEC_KEY is not set/,
    );
  });

  test('another key: the error names both key ids; a previous key still decodes (rotation)', async () => {
    const old = key();
    const current = key();
    const [enc] = await new AesGcmCodec([old]).encode([payloadOf(SECRET)]);
    await expect(new AesGcmCodec([current]).decode([enc!])).rejects.toThrow(
      new RegExp(`encrypted with key ${old.id}, which neither DRIFTLESS_CODEC_KEY \\(key ${current.id}\\)`),
    );
    const rotated = new AesGcmCodec([current, old]);
    expect((await rotated.decode([enc!])).map(valueOf)).toEqual([SECRET]);
    // New data is written with the current key only.
    const [fresh] = await rotated.encode([payloadOf('x')]);
    expect(meta(fresh!, 'encryption-key-id')).toBe(current.id);
  });

  test('an altered payload fails authentication instead of decoding to something else', async () => {
    const codec = new AesGcmCodec([key()]);
    const [enc] = await codec.encode([payloadOf(SECRET)]);
    const data = Buffer.from(enc!.data!);
    data[data.length - 1]! ^= 1;
    await expect(codec.decode([{ ...enc!, data: new Uint8Array(data) }])).rejects.toThrow(
      /failed authentication/,
    );
    // The key id is bound to the ciphertext: relabelling it under another id with the same bytes fails too.
    const k = key();
    const twin = new AesGcmCodec([k, { id: 'ffffffffffffffff', bytes: k.bytes }]);
    const [mine] = await twin.encode([payloadOf(SECRET)]);
    const relabelled = {
      ...mine!,
      metadata: { ...mine!.metadata, 'encryption-key-id': Buffer.from('ffffffffffffffff') },
    };
    await expect(twin.decode([relabelled])).rejects.toThrow(/failed authentication/);
  });
});

describe('keys from the environment', () => {
  test('a base64 or a hex key of 32 bytes is taken, with the same id either way', () => {
    const raw = randomBytes(32);
    const a = parseCodecKey(raw.toString('base64'), 'X');
    const b = parseCodecKey(raw.toString('hex'), 'X');
    expect(a.id).toBe(b.id);
    expect(a.id).toMatch(/^[0-9a-f]{16}$/);
  });

  test.each([
    ['too short', Buffer.alloc(16).toString('base64'), /got 16 bytes/],
    ['not base64 nor hex', 'my secret password!', /got something else/],
  ])('%s: refused, naming the variable and not echoing the value', (_what, raw, why) => {
    let err: unknown;
    try {
      codecKeysFromEnv({ DRIFTLESS_CODEC_KEY: raw });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CodecError);
    expect((err as Error).message).toMatch(/^DRIFTLESS_CODEC_KEY: expected 32 random bytes/);
    expect((err as Error).message).toMatch(why);
    expect((err as Error).message).not.toContain(raw);
  });

  test('no key: no encryption; previous keys without a current one are refused', () => {
    expect(codecKeysFromEnv({})).toBeUndefined();
    expect(codecFromEnv({ DRIFTLESS_CODEC_KEY: '  ' }).encrypting).toBe(false);
    expect(() => codecKeysFromEnv({ DRIFTLESS_CODEC_PREVIOUS_KEYS: newCodecKey() })).toThrow(
      /DRIFTLESS_CODEC_PREVIOUS_KEYS is set but DRIFTLESS_CODEC_KEY is not/,
    );
  });

  test('the current key comes first; a bad previous key is named by its position', () => {
    const cur = newCodecKey();
    const keys = codecKeysFromEnv({
      DRIFTLESS_CODEC_KEY: cur,
      DRIFTLESS_CODEC_PREVIOUS_KEYS: `${newCodecKey()}, ${newCodecKey()}`,
    });
    expect(keys).toHaveLength(3);
    expect(keys![0]!.id).toBe(parseCodecKey(cur, 'x').id);
    expect(() =>
      codecKeysFromEnv({ DRIFTLESS_CODEC_KEY: cur, DRIFTLESS_CODEC_PREVIOUS_KEYS: `${newCodecKey()},nope` }),
    ).toThrow(/^DRIFTLESS_CODEC_PREVIOUS_KEYS \(key 2\): expected/);
  });
});
