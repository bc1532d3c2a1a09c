/**
 * The payload codec that keeps workload specs (their env may hold secrets), statuses and
 * activity arguments out of Temporal's history in clear text: AES-256-GCM with a key from the
 * environment. The worker, the agents and the CLI must share the key; the Web UI decodes
 * through the codec endpoint (`driftless codec serve`, or the one `driftless dev` starts).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { payloadFromJson, payloadToJson, type JsonPayload } from './payload-json';

/** The current key: encodes, and decodes what it encoded. */
export const CODEC_KEY_ENV = 'DRIFTLESS_CODEC_KEY';
/** Earlier keys, comma-separated: decode only, so that a key can be rotated. */
export const CODEC_PREVIOUS_KEYS_ENV = 'DRIFTLESS_CODEC_PREVIOUS_KEYS';

/** Metadata of an encrypted payload (the encoding name the Temporal UI knows as encrypted). */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
const CIPHER = 'AES-256-GCM';
const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();
const text = (v: Uint8Array | null | undefined) => (v ? fromUtf8.decode(v) : undefined);

/** A key or a payload the codec cannot use; names the variable or the key id, never the key. */
export class CodecError extends Error {
  override readonly name = 'CodecError';
}

/** A 256-bit key and its id (a hash prefix, safe to show and to store beside the data). */
export interface CodecKey {
  id: string;
  bytes: Buffer;
}

/** Parses a key written as base64 (44 characters) or hex (64); `source` names where it came from. */
export function parseCodecKey(raw: string, source: string): CodecKey {
  const v = raw.trim();
  const bytes = /^[0-9a-f]{64}$/i.test(v)
    ? Buffer.from(v, 'hex')
    : /^[A-Za-z0-9+/_-]+={0,2}$/.test(v)
      ? Buffer.from(v, 'base64')
      : undefined;
  if (!bytes || bytes.length !== 32) {
    throw new CodecError(
      `${source}: expected 32 random bytes written as base64 (44 characters) or hex (64), ` +
        `got ${bytes ? `${bytes.length} bytes` : 'something else'}; \`driftless codec key\` makes one`,
    );
  }
  return { id: createHash('sha256').update(bytes).digest('hex').slice(0, 16), bytes };
}

/** A new random key, base64: what `driftless codec key` prints. */
export function newCodecKey(): string {
  return randomBytes(32).toString('base64');
}

/** The keys the environment holds: the current one first. Undefined when no key is set. */
export function codecKeysFromEnv(env: NodeJS.ProcessEnv): CodecKey[] | undefined {
  const current = env[CODEC_KEY_ENV]?.trim();
  const previous = (env[CODEC_PREVIOUS_KEYS_ENV] ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  if (!current) {
    if (previous.length) {
      throw new CodecError(
        `${CODEC_PREVIOUS_KEYS_ENV} is set but ${CODEC_KEY_ENV} is not: set the current key too`,
      );
    }
    return undefined;
  }
  return [
    parseCodecKey(current, CODEC_KEY_ENV),
    ...previous.map((k, i) => parseCodecKey(k, `${CODEC_PREVIOUS_KEYS_ENV} (key ${i + 1})`)),
  ];
}

/** A payload as bytes: its metadata and data, so that nothing of it stays readable. */
const serialize = (p: Payload): Buffer => Buffer.from(JSON.stringify(payloadToJson(p)));
const deserialize = (b: Buffer): Payload => payloadFromJson(JSON.parse(b.toString('utf8')) as JsonPayload);

/**
 * Encrypts every payload with the current key when one is set (each with a fresh IV; the key
 * id is bound as associated data) and decrypts with whichever key a payload names. Without a
 * key it passes payloads through, and an encrypted payload fails with a message saying which
 * variable to set, instead of the SDK's "unknown encoding".
 */
export class AesGcmCodec implements PayloadCodec {
  private readonly byId: Map<string, CodecKey>;

  constructor(private readonly keys: readonly CodecKey[] = []) {
    this.byId = new Map(keys.map((k) => [k.id, k]));
  }

  /** Whether payloads are encrypted on the way out. */
  get encrypting(): boolean {
    return this.keys.length > 0;
  }

  /** The current key's id, if any. */
  get keyId(): string | undefined {
    return this.keys[0]?.id;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const key = this.keys[0];
    if (!key) return payloads;
    return payloads.map((p) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key.bytes, iv);
      cipher.setAAD(Buffer.from(`driftless/${VERSION}/${key.id}`));
      const sealed = Buffer.concat([cipher.update(serialize(p)), cipher.final()]);
      return {
        metadata: {
          encoding: utf8.encode(ENCRYPTED_ENCODING),
          'encryption-cipher': utf8.encode(CIPHER),
          'encryption-key-id': utf8.encode(key.id),
        },
        data: new Uint8Array(Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), sealed])),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      if (text(p.metadata?.encoding) !== ENCRYPTED_ENCODING) return p;
      const keyId = text(p.metadata?.['encryption-key-id']) ?? '?';
      const key = this.byId.get(keyId);
      if (!key) {
        throw new CodecError(
          this.keys.length === 0
            ? `this data is encrypted (key ${keyId}) and ${CODEC_KEY_ENV} is not set: set it to this installation's codec key`
            : `this data is encrypted with key ${keyId}, which neither ${CODEC_KEY_ENV} (key ${this.keys[0]!.id}) ` +
                `nor ${CODEC_PREVIOUS_KEYS_ENV} holds`,
        );
      }
      const data = Buffer.from(p.data ?? new Uint8Array());
      if (data.length < 1 + IV_BYTES + TAG_BYTES || data[0] !== VERSION) {
        throw new CodecError(`encrypted payload (key ${keyId}) is not in a format this version reads`);
      }
      const iv = data.subarray(1, 1 + IV_BYTES);
      const tag = data.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
      const decipher = createDecipheriv('aes-256-gcm', key.bytes, iv);
      decipher.setAAD(Buffer.from(`driftless/${VERSION}/${key.id}`));
      decipher.setAuthTag(tag);
      try {
        return deserialize(
          Buffer.concat([decipher.update(data.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]),
        );
      } catch {
        throw new CodecError(
          `encrypted payload (key ${keyId}) failed authentication: altered, or another key`,
        );
      }
    });
  }
}

/** The codec for this process's environment (a pass-through one when no key is set). */
export function codecFromEnv(env: NodeJS.ProcessEnv = process.env): AesGcmCodec {
  return new AesGcmCodec(codecKeysFromEnv(env) ?? []);
}
