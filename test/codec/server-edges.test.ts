/** The codec endpoint's edges over real HTTP on loopback: limits, headers, malformed requests. */
import { defaultPayloadConverter } from '@temporalio/common';
import {
  AesGcmCodec,
  CodecError,
  codecKeysFromEnv,
  newCodecKey,
  parseCodecKey,
} from '../../src/codec/aes-gcm';
import { payloadToJson } from '../../src/codec/payload-json';
import { localUiOrigins, startCodecServer, type CodecServer } from '../../src/codec/server';

const UI = 'http://localhost:8233';
const TOKEN = 'edge-token-0123456789abcdef';
const codec = new AesGcmCodec([parseCodecKey(newCodecKey(), 'test')]);
const MAX = 4096;
let server: CodecServer;

beforeAll(async () => {
  server = await startCodecServer({ codec, token: TOKEN, maxBodyBytes: MAX });
});
afterAll(() => server?.close());

const post = (path: string, body: string, headers: Record<string, string> = {}, base = server.url) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
const bearer = (value: string) => ({ authorization: value });
const plain = JSON.stringify({ payloads: [payloadToJson(defaultPayloadConverter.toPayload('hi')!)] });

describe('the token in the Authorization header', () => {
  test('"Bearer" in any case, with several spaces or a tab before the token and spaces after, is read', async () => {
    for (const h of [`Bearer ${TOKEN}`, `bearer  ${TOKEN}`, `Bearer\t${TOKEN}  `]) {
      expect((await post('/decode', plain, bearer(h))).status).toBe(200);
    }
  });

  test('anything before "Bearer", or after the token, makes it no token', async () => {
    for (const h of [`xBearer ${TOKEN}`, `Bearer ${TOKEN} extra`, `Bearer ${TOKEN}x`, `Bearer${TOKEN}`]) {
      expect((await post('/decode', plain, bearer(h))).status).toBe(401);
    }
  });
});

describe('the token in the path', () => {
  test('the token alone as the path is recognised, and then the route is missing (404, not 401)', async () => {
    const res = await post(`/${TOKEN}`, plain);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toBe(
      'no route /<token>: POST /encode or /decode',
    );
  });

  test('a path segment that is not valid percent-encoding is no token: 401, not a crash', async () => {
    const res = await post('/%E0%A4%A/decode', plain);
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toBe('application/json');
  });
});

describe('the request body', () => {
  test(`a body of at most maxBodyBytes is read; one byte more is a 413 naming the limit`, async () => {
    const padded = (n: number) => plain + ' '.repeat(n - Buffer.byteLength(plain));
    expect((await post('/decode', padded(MAX), bearer(`Bearer ${TOKEN}`))).status).toBe(200);
    const res = await post('/decode', padded(MAX + 1), bearer(`Bearer ${TOKEN}`));
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: `request body over ${MAX} bytes` });
  });

  test('JSON that is not an object with payloads, or a payload that is not an object, is a 400 saying which', async () => {
    const auth = bearer(`Bearer ${TOKEN}`);
    const r1 = await post('/decode', 'null', auth);
    expect(r1.status).toBe(400);
    expect(await r1.json()).toEqual({ error: 'payloads: expected an array' });
    const r2 = await post('/decode', JSON.stringify({ payloads: [{}, null] }), auth);
    expect(r2.status).toBe(400);
    expect(await r2.json()).toEqual({ error: 'payloads[1]: expected an object' });
  });
});

describe('answers', () => {
  test('/encode encrypts (it does not decode), and answers JSON', async () => {
    const res = await post('/encode', plain, bearer(`Bearer ${TOKEN}`));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const { payloads } = (await res.json()) as { payloads: Array<{ metadata: Record<string, string> }> };
    expect(Buffer.from(payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('binary/encrypted');
  });

  test('an error is JSON too', async () => {
    const res = await post('/nowhere', plain, bearer(`Bearer ${TOKEN}`));
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/json');
  });

  test('an allowed origin gets its credentials header and the cache is told answers vary by origin', async () => {
    const res = await post('/decode', plain, { ...bearer(`Bearer ${TOKEN}`), origin: UI });
    expect(res.headers.get('access-control-allow-origin')).toBe(UI);
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(res.headers.get('vary')).toBe('Origin');
  });
});

describe('starting and stopping', () => {
  test('the UI origins by default are localhost and 127.0.0.1 on the UI port', () => {
    expect(localUiOrigins()).toEqual(['http://localhost:8233', 'http://127.0.0.1:8233']);
    expect(localUiOrigins(9000)).toEqual(['http://localhost:9000', 'http://127.0.0.1:9000']);
  });

  test('a token of exactly the minimum length is taken', async () => {
    const s = await startCodecServer({ codec, token: 'a'.repeat(16) });
    await s.close();
  });

  test('a port already taken makes the start fail instead of listening elsewhere', async () => {
    const port = Number(new URL(server.url).port);
    await expect(startCodecServer({ codec, token: TOKEN, port })).rejects.toThrow(/EADDRINUSE/);
  });

  test('without maxBodyBytes a body over 16 MiB is refused', async () => {
    const s = await startCodecServer({ codec, token: TOKEN });
    try {
      const res = await post('/decode', ' '.repeat((16 << 20) + 1), bearer(`Bearer ${TOKEN}`), s.url);
      expect(res.status).toBe(413);
    } finally {
      await s.close();
    }
  });

  test('after close nothing answers', async () => {
    const s = await startCodecServer({ codec, insecureNoAuth: true });
    await s.close();
    await expect(post('/decode', plain, {}, s.url)).rejects.toThrow();
  });
});

describe('codec keys', () => {
  test('a codec error says it is one', () => {
    expect(new CodecError('x').name).toBe('CodecError');
  });

  test('blank entries among the previous keys are skipped', () => {
    const keys = codecKeysFromEnv({
      DRIFTLESS_CODEC_KEY: newCodecKey(),
      DRIFTLESS_CODEC_PREVIOUS_KEYS: ` ${newCodecKey()} , ,`,
    });
    expect(keys).toHaveLength(2);
  });
});
