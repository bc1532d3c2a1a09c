import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { Payload } from '@temporalio/common';
import { defaultPayloadConverter } from '@temporalio/common';
import {
  AesGcmCodec,
  CODEC_KEY_ENV,
  CODEC_PREVIOUS_KEYS_ENV,
  CodecError,
  ENCRYPTED_ENCODING,
  codecFromEnv,
  newCodecKey,
  parseCodecKey,
  type CodecKey,
} from '../../src/codec/aes-gcm';
import { payloadFromJson, payloadToJson } from '../../src/codec/payload-json';

// Encrypted payloads stay in Temporal's history for as long as it keeps workflows: the layout
// below is a stored format, so it is written out here rather than taken from the codec.
// data = version (1) | IV (12 bytes) | GCM tag (16 bytes) | sealed JSON payload;
// associated data "driftless/1/<key id>".
const key = (): CodecKey => parseCodecKey(newCodecKey(), 'test');
const payloadOf = (v: unknown): Payload => defaultPayloadConverter.toPayload(v)!;
const valueOf = (p: Payload) => defaultPayloadConverter.fromPayload(p);
const meta = (p: Payload, k: string) => Buffer.from(p.metadata?.[k] ?? []).toString('utf8');

function sealByHand(k: CodecKey, inner: Payload, version = 1): Payload {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', k.bytes, iv);
  cipher.setAAD(Buffer.from(`driftless/1/${k.id}`));
  const sealed = Buffer.concat([cipher.update(JSON.stringify(payloadToJson(inner))), cipher.final()]);
  return {
    metadata: {
      encoding: Buffer.from(ENCRYPTED_ENCODING),
      'encryption-key-id': Buffer.from(k.id),
    },
    data: new Uint8Array(Buffer.concat([Buffer.from([version]), iv, cipher.getAuthTag(), sealed])),
  };
}

describe('the stored format of an encrypted payload', () => {
  test('what the codec writes opens by hand with the documented layout and associated data', async () => {
    const k = key();
    const [enc] = await new AesGcmCodec([k]).encode([payloadOf({ a: 1 })]);
    expect(meta(enc!, 'encoding')).toBe('binary/encrypted');
    expect(meta(enc!, 'encryption-cipher')).toBe('AES-256-GCM');
    expect(meta(enc!, 'encryption-key-id')).toBe(k.id);
    const data = Buffer.from(enc!.data!);
    expect(data[0]).toBe(1);
    const decipher = createDecipheriv('aes-256-gcm', k.bytes, data.subarray(1, 13));
    decipher.setAAD(Buffer.from(`driftless/1/${k.id}`));
    decipher.setAuthTag(data.subarray(13, 29));
    const inner = Buffer.concat([decipher.update(data.subarray(29)), decipher.final()]).toString('utf8');
    expect(valueOf(payloadFromJson(JSON.parse(inner)))).toEqual({ a: 1 });
  });

  test('a payload sealed by hand in that layout decodes', async () => {
    const k = key();
    const [dec] = await new AesGcmCodec([k]).decode([sealByHand(k, payloadOf(['x', 2]))]);
    expect(valueOf(dec!)).toEqual(['x', 2]);
  });

  test('another version byte, or data too short to hold IV and tag, is refused as a format this version cannot read', async () => {
    const k = key();
    const codec = new AesGcmCodec([k]);
    const formatError = `encrypted payload (key ${k.id}) is not in a format this version reads`;
    await expect(codec.decode([sealByHand(k, payloadOf(1), 2)])).rejects.toThrow(formatError);
    const short = { ...sealByHand(k, payloadOf(1)), data: new Uint8Array(28).fill(1) };
    await expect(codec.decode([short])).rejects.toThrow(formatError);
    const none = { ...sealByHand(k, payloadOf(1)), data: undefined };
    await expect(codec.decode([none])).rejects.toThrow(formatError);
  });

  test('data just long enough for version, IV and tag is read, and fails authentication rather than the format check', async () => {
    const k = key();
    const bare = { ...sealByHand(k, payloadOf(1)), data: new Uint8Array([1, ...new Uint8Array(28)]) };
    const err = await new AesGcmCodec([k]).decode([bare]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CodecError);
    expect((err as Error).message).toBe(
      `encrypted payload (key ${k.id}) failed authentication: altered, or another key`,
    );
  });

  test('an encrypted payload that names no key is reported as key "?"', async () => {
    const k = key();
    const p = sealByHand(k, payloadOf(1));
    const anonymous = { ...p, metadata: { encoding: p.metadata!.encoding! } };
    await expect(new AesGcmCodec([k]).decode([anonymous])).rejects.toThrow(
      `this data is encrypted with key ?, which neither ${CODEC_KEY_ENV} (key ${k.id}) nor ${CODEC_PREVIOUS_KEYS_ENV} holds`,
    );
    await expect(new AesGcmCodec().decode([anonymous])).rejects.toThrow(
      `this data is encrypted (key ?) and ${CODEC_KEY_ENV} is not set: set it to this installation's codec key`,
    );
  });

  test('a payload without metadata is not encrypted and passes through decode untouched', async () => {
    const plain: Payload = { data: new Uint8Array([1, 2]) };
    const [out] = await new AesGcmCodec([key()]).decode([plain]);
    expect(out).toBe(plain);
  });
});

describe('codec state', () => {
  test('a codec with keys encrypts and names its current (first) key; one without neither', () => {
    const [a, b] = [key(), key()];
    const codec = new AesGcmCodec([a, b]);
    expect(codec.encrypting).toBe(true);
    expect(codec.keyId).toBe(a.id);
    expect(new AesGcmCodec().encrypting).toBe(false);
    expect(new AesGcmCodec().keyId).toBeUndefined();
  });

  test('the codec from the environment uses its key, and from process.env by default', async () => {
    const raw = newCodecKey();
    const codec = codecFromEnv({ [CODEC_KEY_ENV]: raw });
    expect(codec.keyId).toBe(parseCodecKey(raw, 'x').id);
    const saved = process.env[CODEC_KEY_ENV];
    process.env[CODEC_KEY_ENV] = raw;
    try {
      expect(codecFromEnv().keyId).toBe(codec.keyId);
    } finally {
      if (saved === undefined) delete process.env[CODEC_KEY_ENV];
      else process.env[CODEC_KEY_ENV] = saved;
    }
  });

  test('encoding with a codec of previous keys only for decoding still writes with the current key', async () => {
    const [cur, old] = [key(), key()];
    const [enc] = await new AesGcmCodec([cur, old]).encode([payloadOf('v')]);
    expect(meta(enc!, 'encryption-key-id')).toBe(cur.id);
    await expect(new AesGcmCodec([old]).decode([enc!])).rejects.toThrow(CodecError);
  });
});

describe('keys', () => {
  test('a key id is the first 16 hex characters of the SHA-256 of the key bytes', () => {
    const raw = randomBytes(32);
    expect(parseCodecKey(raw.toString('base64'), 'X').id).toBe(
      createHash('sha256').update(raw).digest('hex').slice(0, 16),
    );
  });

  test('spaces around a key, upper-case hex and URL-safe base64 are all taken', () => {
    const raw = randomBytes(32);
    const id = parseCodecKey(raw.toString('hex'), 'X').id;
    expect(parseCodecKey(`  ${raw.toString('base64')}\n`, 'X').id).toBe(id);
    expect(parseCodecKey(raw.toString('hex').toUpperCase(), 'X').id).toBe(id);
    expect(parseCodecKey(raw.toString('base64url'), 'X').id).toBe(id);
    expect(parseCodecKey(raw.toString('hex'), 'X').bytes.equals(raw)).toBe(true);
  });

  test('hex of the wrong length or with stray characters is not a key', () => {
    const hex = randomBytes(32).toString('hex');
    expect(() => parseCodecKey(`#${hex}`, 'SRC')).toThrow(
      /^SRC: expected 32 random bytes.*got something else/,
    );
    expect(() => parseCodecKey(`${hex}=x`, 'SRC')).toThrow(/got something else/);
    expect(() => parseCodecKey(randomBytes(33).toString('base64'), 'SRC')).toThrow(/got 33 bytes/);
    expect(() => parseCodecKey(hex.slice(0, 62), 'SRC')).toThrow(CodecError);
    expect(() => parseCodecKey('', 'SRC')).toThrow(/got something else; `driftless codec key` makes one$/);
  });

  test('a new key is 32 random bytes in base64 (44 characters), different each time', () => {
    const k = newCodecKey();
    expect(k).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(k, 'base64')).toHaveLength(32);
    expect(newCodecKey()).not.toBe(k);
  });
});

describe('payloads as JSON', () => {
  test('metadata and data become base64 and come back as the same bytes', () => {
    const p: Payload = { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"hi"') };
    const json = payloadToJson(p);
    expect(json).toEqual({
      metadata: { encoding: Buffer.from('json/plain').toString('base64') },
      data: Buffer.from('"hi"').toString('base64'),
    });
    const back = payloadFromJson(json);
    expect(Buffer.from(back.data!).toString()).toBe('"hi"');
    expect(Buffer.from(back.metadata!.encoding!).toString()).toBe('json/plain');
  });

  test('a payload without metadata or data becomes empty ones, both ways', () => {
    expect(payloadToJson({})).toEqual({ metadata: {}, data: '' });
    expect(payloadToJson({ metadata: { a: null } as unknown as Payload['metadata'] })).toEqual({
      metadata: { a: '' },
      data: '',
    });
    const back = payloadFromJson({});
    expect(back.metadata).toEqual({});
    expect(back.data).toEqual(new Uint8Array());
  });
});
