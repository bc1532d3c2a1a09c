/** The Web UI's codec endpoint over real HTTP on loopback. */
import { defaultPayloadConverter } from '@temporalio/common';
import { AesGcmCodec, newCodecKey, parseCodecKey } from '../../src/codec/aes-gcm';
import { payloadToJson } from '../../src/codec/payload-json';
import { startCodecServer, type CodecServer } from '../../src/codec/server';

const UI = 'http://localhost:8233';
const codec = new AesGcmCodec([parseCodecKey(newCodecKey(), 'test')]);
let server: CodecServer;

beforeAll(async () => {
  server = await startCodecServer({ codec });
});
afterAll(() => server?.close());

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

test('listens on loopback by default', () => {
  expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
});

test('POST /decode gives back the payloads in clear, in the JSON shape the UI sends', async () => {
  const encoded = await codec.encode([defaultPayloadConverter.toPayload({ token: 's3cret' })!]);
  const res = await post('/decode', { payloads: encoded.map(payloadToJson) }, { origin: UI });
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
  const enc = (await (await post('/encode', { payloads: [plain] })).json()) as { payloads: unknown[] };
  const dec = (await (await post('/decode', enc)).json()) as { payloads: unknown[] };
  expect(dec.payloads).toEqual([plain]);
});

test('the CORS preflight from the UI is answered with the methods and headers it needs', async () => {
  const res = await fetch(`${server.url}/decode`, {
    method: 'OPTIONS',
    headers: {
      origin: UI,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type,x-namespace',
    },
  });
  expect(res.status).toBe(204);
  expect(res.headers.get('access-control-allow-origin')).toBe(UI);
  expect(res.headers.get('access-control-allow-methods')).toContain('POST');
  expect(res.headers.get('access-control-allow-headers')).toContain('x-namespace');
});

test('a page of another origin is refused', async () => {
  const res = await post('/decode', { payloads: [] }, { origin: 'http://evil.example' });
  expect(res.status).toBe(403);
  expect(res.headers.get('access-control-allow-origin')).toBeNull();
  expect(await res.json()).toEqual({ error: 'origin http://evil.example is not allowed' });
});

test.each([
  ['not JSON', '{', 400, 'body: expected JSON'],
  ['no payloads array', { payload: [] }, 400, 'payloads: expected an array'],
  ['a payload that is not an object', { payloads: [3] }, 400, 'payloads[0]: expected an object'],
])('a body that is %s is a 400 naming what was expected', async (_what, body, status, error) => {
  const res = await post('/decode', body);
  expect(res.status).toBe(status);
  expect(await res.json()).toEqual({ error });
});

test('another path or method is refused with what to call instead', async () => {
  expect((await post('/other', { payloads: [] })).status).toBe(404);
  const get = await fetch(`${server.url}/decode`);
  expect(get.status).toBe(405);
  expect(await get.json()).toEqual({ error: 'GET /decode: expected POST' });
});

test('a payload of another key is a 422 naming the key', async () => {
  const other = new AesGcmCodec([parseCodecKey(newCodecKey(), 'other')]);
  const [enc] = await other.encode([defaultPayloadConverter.toPayload('x')!]);
  const res = await post('/decode', { payloads: [payloadToJson(enc!)] });
  expect(res.status).toBe(422);
  expect(((await res.json()) as { error: string }).error).toContain(`encrypted with key ${other.keyId}`);
});
