/** The Web UI's codec endpoint over real HTTP on loopback. */
import { defaultPayloadConverter } from '@temporalio/common';
import { AesGcmCodec, newCodecKey, parseCodecKey } from '../../src/codec/aes-gcm';
import { payloadToJson } from '../../src/codec/payload-json';
import {
  MIN_TOKEN_LENGTH,
  redactedUiEndpoint,
  startCodecServer,
  type CodecServer,
} from '../../src/codec/server';

const UI = 'http://localhost:8233';
const TOKEN = 'test-token-0123456789abcdef';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const codec = new AesGcmCodec([parseCodecKey(newCodecKey(), 'test')]);
let server: CodecServer;

beforeAll(async () => {
  server = await startCodecServer({ codec, token: TOKEN });
});
afterAll(() => server?.close());

const post = (path: string, body: unknown, headers: Record<string, string> = {}, base = server.url) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

const encrypted = async (value: unknown) =>
  (await codec.encode([defaultPayloadConverter.toPayload(value)!])).map(payloadToJson);

const decodedValues = async (res: Response) => {
  const { payloads } = (await res.json()) as { payloads: Array<{ data: string }> };
  return payloads.map((p) => JSON.parse(Buffer.from(p.data, 'base64').toString()) as unknown);
};

test('listens on loopback by default, and its UI endpoint carries the token in its path', () => {
  expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(server.uiEndpoint).toBe(`${server.url}/${TOKEN}`);
  expect(redactedUiEndpoint(server)).toBe(`${server.url}/<token>`);
});

test('POST /decode gives back the payloads in clear, in the JSON shape the UI sends', async () => {
  const encoded = await codec.encode([defaultPayloadConverter.toPayload({ token: 's3cret' })!]);
  const res = await post('/decode', { payloads: encoded.map(payloadToJson) }, { origin: UI, ...AUTH });
  expect(res.status).toBe(200);
  expect(res.headers.get('access-control-allow-origin')).toBe(UI);
  const { payloads } = (await res.json()) as {
    payloads: Array<{ metadata: Record<string, string>; data: string }>;
  };
  expect(Buffer.from(payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('json/plain');
  expect(JSON.parse(Buffer.from(payloads[0]!.data, 'base64').toString())).toEqual({ token: 's3cret' });
});

test('POST /encode encrypts, and what it encrypts decodes', async () => {
  const plain = payloadToJson(defaultPayloadConverter.toPayload('x')!);
  const enc = (await (await post('/encode', { payloads: [plain] }, AUTH)).json()) as { payloads: unknown[] };
  const dec = (await (await post('/decode', enc, AUTH)).json()) as { payloads: unknown[] };
  expect(dec.payloads).toEqual([plain]);
});

describe('bearer token', () => {
  const WRONG = 'wrong-token-0123456789abcdef';

  test.each([
    ['no token at all', '/decode', {}],
    ['a wrong token in the Authorization header', '/decode', { authorization: `Bearer ${WRONG}` }],
    ['the right token under another scheme', '/decode', { authorization: `Basic ${TOKEN}` }],
    ['a wrong token as the first path segment', `/${WRONG}/decode`, {}],
    ['the token as a later path segment', `/default/${TOKEN}/decode`, {}],
    ['a prefix of the token in the path', `/${TOKEN.slice(0, -1)}/decode`, {}],
  ])('a request with %s is a 401 with WWW-Authenticate: Bearer', async (_what, path, headers) => {
    for (const action of ['decode', 'encode']) {
      const res = await post(path.replace('decode', action), { payloads: await encrypted('x') }, headers);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
      expect(((await res.json()) as { error: string }).error).toMatch(/^missing or wrong token/);
    }
  });

  test('a refused request from the UI still carries its CORS headers, so the UI can read the 401', async () => {
    const res = await post('/decode', { payloads: [] }, { origin: UI });
    expect(res.status).toBe(401);
    expect(res.headers.get('access-control-allow-origin')).toBe(UI);
  });

  test('an unknown path or a GET without the token is a 401 too: nothing answers before the token', async () => {
    expect((await post('/other', { payloads: [] })).status).toBe(401);
    expect((await fetch(`${server.url}/decode`)).status).toBe(401);
  });

  test('the right token in the Authorization header decodes', async () => {
    const res = await post('/decode', { payloads: await encrypted('by header') }, AUTH);
    expect(res.status).toBe(200);
    expect(await decodedValues(res)).toEqual(['by header']);
  });

  test("the right token as the UI's endpoint path decodes and encodes, from the UI's origin", async () => {
    // The UI posts to `<endpoint>/decode`, endpoint = server.uiEndpoint.
    const res = await post(
      '/decode',
      { payloads: await encrypted('by path') },
      { origin: UI },
      server.uiEndpoint,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(UI);
    expect(await decodedValues(res)).toEqual(['by path']);
    const plain = payloadToJson(defaultPayloadConverter.toPayload('y')!);
    expect((await post('/encode', { payloads: [plain] }, {}, server.uiEndpoint)).status).toBe(200);
  });

  test('an endpoint with a trailing slash, or a namespace after the token, works too', async () => {
    for (const path of [`//decode`, `/default/decode`]) {
      const res = await post(path, { payloads: await encrypted('mounted') }, {}, server.uiEndpoint);
      expect(res.status).toBe(200);
      expect(await decodedValues(res)).toEqual(['mounted']);
    }
  });

  test("the path token passes where the header carries someone else's (an OAuth UI's access token)", async () => {
    const res = await post(
      '/decode',
      { payloads: await encrypted('x') },
      { authorization: `Bearer ${WRONG}` },
      server.uiEndpoint,
    );
    expect(res.status).toBe(200);
  });

  test('an error message never repeats the token from the path', async () => {
    const res = await post('/other', { payloads: [] }, {}, server.uiEndpoint);
    expect(res.status).toBe(404);
    const { error } = (await res.json()) as { error: string };
    expect(error).toBe('no route /<token>/other: POST /encode or /decode');
    const get = await fetch(`${server.uiEndpoint}/decode`);
    expect(get.status).toBe(405);
    expect(await get.json()).toEqual({ error: 'GET /<token>/decode: expected POST' });
  });

  test('the CORS preflight is answered without a token, and still only for the UI', async () => {
    const preflight = (origin: string) =>
      fetch(`${server.url}/decode`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,x-namespace',
        },
      });
    const ok = await preflight(UI);
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe(UI);
    expect(ok.headers.get('access-control-allow-methods')).toContain('POST');
    expect(ok.headers.get('access-control-allow-headers')).toContain('x-namespace');
    expect((await preflight('http://evil.example')).status).toBe(403);
  });

  test(`a token shorter than ${MIN_TOKEN_LENGTH} characters, or none without insecureNoAuth, is refused at start`, async () => {
    await expect(startCodecServer({ codec })).rejects.toThrow(/token of at least 16 characters/);
    await expect(startCodecServer({ codec, token: 'x'.repeat(MIN_TOKEN_LENGTH - 1) })).rejects.toThrow(
      /token of at least 16 characters/,
    );
    await expect(startCodecServer({ codec, token: TOKEN, insecureNoAuth: true })).rejects.toThrow(
      /exclude each other/,
    );
  });

  test('with insecureNoAuth, a request without a token decodes, and the UI endpoint is the bare URL', async () => {
    const open = await startCodecServer({ codec, insecureNoAuth: true });
    try {
      expect(open.uiEndpoint).toBe(open.url);
      expect(redactedUiEndpoint(open)).toBe(open.url);
      const res = await post('/decode', { payloads: await encrypted('open') }, { origin: UI }, open.url);
      expect(res.status).toBe(200);
      expect(await decodedValues(res)).toEqual(['open']);
    } finally {
      await open.close();
    }
  });
});

test('a page of another origin is refused, token or not', async () => {
  const res = await post('/decode', { payloads: [] }, { origin: 'http://evil.example', ...AUTH });
  expect(res.status).toBe(403);
  expect(res.headers.get('access-control-allow-origin')).toBeNull();
  expect(await res.json()).toEqual({ error: 'origin http://evil.example is not allowed' });
});

test.each([
  ['not JSON', '{', 400, 'body: expected JSON'],
  ['no payloads array', { payload: [] }, 400, 'payloads: expected an array'],
  ['a payload that is not an object', { payloads: [3] }, 400, 'payloads[0]: expected an object'],
])('a body that is %s is a 400 naming what was expected', async (_what, body, status, error) => {
  const res = await post('/decode', body, AUTH);
  expect(res.status).toBe(status);
  expect(await res.json()).toEqual({ error });
});

test('another path or method is refused with what to call instead', async () => {
  expect((await post('/other', { payloads: [] }, AUTH)).status).toBe(404);
  const get = await fetch(`${server.url}/decode`, { headers: AUTH });
  expect(get.status).toBe(405);
  expect(await get.json()).toEqual({ error: 'GET /decode: expected POST' });
});

test('a payload of another key is a 422 naming the key', async () => {
  const other = new AesGcmCodec([parseCodecKey(newCodecKey(), 'other')]);
  const [enc] = await other.encode([defaultPayloadConverter.toPayload('x')!]);
  const res = await post('/decode', { payloads: [payloadToJson(enc!)] }, AUTH);
  expect(res.status).toBe(422);
  expect(((await res.json()) as { error: string }).error).toContain(`encrypted with key ${other.keyId}`);
});
