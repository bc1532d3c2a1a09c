/**
 * The Temporal Web UI's remote codec endpoint: POST /decode (and /encode) with
 * `{ payloads: [{ metadata: { k: base64 }, data: base64 }] }`, answered in the same shape. It
 * decrypts for whoever can reach it, so it listens on loopback by default and answers CORS
 * requests only from the UI's own origins.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { payloadFromJson, payloadToJson, type JsonPayload } from './payload-json';

export interface CodecServerOptions {
  codec: PayloadCodec;
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
  /** http://host:port: what the UI's codec endpoint setting takes. */
  url: string;
  close(): Promise<void>;
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

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const origin = req.headers.origin;
    if (origin !== undefined) {
      if (!origins.has(origin)) throw new HttpError(403, `origin ${origin} is not allowed`);
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
    }
    const path = new URL(req.url ?? '/', 'http://codec').pathname.replace(/\/+$/, '');
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'content-type, x-namespace, authorization');
      res.writeHead(204).end();
      return;
    }
    if (path !== '/encode' && path !== '/decode')
      throw new HttpError(404, `no route ${path || '/'}: POST /encode or /decode`);
    if (req.method !== 'POST') throw new HttpError(405, `${req.method} ${path}: expected POST`);
    const payloads = parsePayloads(await readBody(req, max));
    let out: Payload[];
    try {
      out = path === '/encode' ? await opts.codec.encode(payloads) : await opts.codec.decode(payloads);
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
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
