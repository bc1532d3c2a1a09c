/**
 * The Temporal Web UI's remote codec endpoint: POST /decode (and /encode) with
 * `{ payloads: [{ metadata: { k: base64 }, data: base64 }] }`, answered in the same shape. It
 * decrypts for whoever holds its bearer token, listens on loopback by default and answers CORS
 * requests only from the UI's own origins.
 *
 * The token travels one of two ways. `Authorization: Bearer <token>` is for scripts and proxies.
 * The Web UI cannot send it: the UI's codec settings add an Authorization header only with
 * `passAccessToken`, and then it is the signed-in user's OAuth access token (only to an https
 * endpoint), never a static one; `includeCredentials` adds cookies, which we do not issue. So the
 * token may instead be the first path segment, and the UI's endpoint is `http://host:port/<token>`
 * (the UI posts to `<endpoint>/decode`; the codec protocol routes on the last segment only). A
 * URL carrying a secret is the weaker form (it sits in the UI's settings and in the process list
 * of whatever passes it on), but it is the one the UI can present.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { payloadFromJson, payloadToJson, type JsonPayload } from './payload-json';

/** The shortest bearer token the endpoint accepts. */
export const MIN_TOKEN_LENGTH = 16;

export interface CodecServerOptions {
  codec: PayloadCodec;
  /**
   * The bearer token every request but a CORS preflight must carry, in `Authorization: Bearer`
   * or as the first path segment; at least {@link MIN_TOKEN_LENGTH} characters. Required unless
   * `insecureNoAuth`.
   */
  token?: string;
  /** Answer without a token: anyone who reaches the endpoint decrypts. @default false */
  insecureNoAuth?: boolean;
  /** @default "127.0.0.1" */
  host?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** Origins (scheme://host:port) a browser may call from. @default the local Web UI on 8233 */
  uiOrigins?: string[];
  /** Largest request body. @default 16 MiB */
  maxBodyBytes?: number;
}

export interface CodecServer {
  /** http://host:port, without the token: safe to print. */
  url: string;
  /**
   * What the UI's codec endpoint setting takes: `url` with the token as its path
   * (`http://host:port/<token>`), or `url` itself without auth. It holds the secret: never log it.
   */
  uiEndpoint: string;
  close(): Promise<void>;
}

/** `url` as the UI takes it, with the token elided: what may be printed. */
export function redactedUiEndpoint(server: Pick<CodecServer, 'url' | 'uiEndpoint'>): string {
  return server.uiEndpoint === server.url ? server.url : `${server.url}/<token>`;
}

/** Origins of the local dev server's Web UI on `port`. */
export function localUiOrigins(port = 8233): string[] {
  return [`http://localhost:${port}`, `http://127.0.0.1:${port}`];
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Compares in constant time: equal-length SHA-256 digests, so neither content nor length leaks. */
function tokenMatches(expected: Buffer, candidate: string | undefined): boolean {
  return candidate !== undefined && timingSafeEqual(expected, digest(candidate));
}

function bearerOf(req: IncomingMessage): string | undefined {
  const m = /^Bearer[ \t]+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return m?.[1];
}

function decodeSegment(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

async function readBody(req: IncomingMessage, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > max) throw new HttpError(413, `request body over ${max} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parsePayloads(body: string): Payload[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new HttpError(400, 'body: expected JSON');
  }
  const list = (parsed as { payloads?: unknown } | null)?.payloads;
  if (!Array.isArray(list)) throw new HttpError(400, 'payloads: expected an array');
  return list.map((p, i) => {
    if (typeof p !== 'object' || p === null) throw new HttpError(400, `payloads[${i}]: expected an object`);
    return payloadFromJson(p as JsonPayload);
  });
}

/** Starts the endpoint; resolves once it listens. */
export async function startCodecServer(opts: CodecServerOptions): Promise<CodecServer> {
  const origins = new Set(opts.uiOrigins ?? localUiOrigins());
  const max = opts.maxBodyBytes ?? 16 << 20;
  if (opts.insecureNoAuth === true && opts.token !== undefined)
    throw new Error('codec server: token and insecureNoAuth exclude each other');
  if (opts.insecureNoAuth !== true && (opts.token ?? '').length < MIN_TOKEN_LENGTH)
    throw new Error(`codec server: a token of at least ${MIN_TOKEN_LENGTH} characters, or insecureNoAuth`);
  const expected = opts.insecureNoAuth === true ? undefined : digest(opts.token!);

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const origin = req.headers.origin;
    if (origin !== undefined) {
      if (!origins.has(origin)) throw new HttpError(403, `origin ${origin} is not allowed`);
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
    }
    // A preflight carries no credentials (browsers never send them on one): answer it for the
    // allowed origins, whose actual request must then carry the token.
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'content-type, x-namespace, authorization');
      res.writeHead(204).end();
      return;
    }
    // Empty segments dropped: a UI endpoint with a trailing slash posts to /<token>//decode.
    // Split by hand: to URL, a path that begins with // would name a host.
    const segments = (req.url ?? '/')
      .split(/[?#]/)[0]!
      .split('/')
      .filter((x) => x !== '');
    let shown = segments;
    if (expected) {
      // Either form may match: behind an OAuth UI with passAccessToken, the header carries the
      // user's access token and the path ours. Both are compared, so the time says nothing.
      const byHeader = tokenMatches(expected, bearerOf(req));
      const byPath = segments.length >= 1 && tokenMatches(expected, decodeSegment(segments[0]!));
      if (!byHeader && !byPath) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="driftless codec"');
        throw new HttpError(
          401,
          'missing or wrong token: send Authorization: Bearer <token>, or use the endpoint http://host:port/<token>',
        );
      }
      if (byPath) shown = ['<token>', ...segments.slice(1)];
    }
    // The codec protocol routes on the last segment; what precedes it (our token, a namespace) is the mount.
    const path = `/${shown.join('/')}`;
    const action = segments.at(-1);
    if (action !== 'encode' && action !== 'decode')
      throw new HttpError(404, `no route ${path}: POST /encode or /decode`);
    if (req.method !== 'POST') throw new HttpError(405, `${req.method} ${path}: expected POST`);
    const payloads = parsePayloads(await readBody(req, max));
    let out: Payload[];
    try {
      out = action === 'encode' ? await opts.codec.encode(payloads) : await opts.codec.decode(payloads);
    } catch (err) {
      throw new HttpError(422, (err as Error).message);
    }
    res
      .writeHead(200, { 'Content-Type': 'application/json' })
      .end(JSON.stringify({ payloads: out.map(payloadToJson) }));
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      if (!res.headersSent) res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: (err as Error).message }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  const url = `http://${host}:${port}`;
  return {
    url,
    uiEndpoint: opts.token === undefined ? url : `${url}/${encodeURIComponent(opts.token)}`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
