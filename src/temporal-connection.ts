import { readFileSync } from 'node:fs';
import type { Config } from './config/config';
import { codecFromEnv } from './codec/aes-gcm';

/** TLS and API-key settings shared by the client's Connection and the worker's NativeConnection. */
export function connectionOptions(t: Config['temporal']) {
  const tls = t.tls?.enabled
    ? {
        serverNameOverride: t.tls.serverName,
        serverRootCACertificate: t.tls.caPath ? readFileSync(t.tls.caPath) : undefined,
        clientCertPair:
          t.tls.certPath && t.tls.keyPath
            ? { crt: readFileSync(t.tls.certPath), key: readFileSync(t.tls.keyPath) }
            : undefined,
      }
    : undefined;
  return { address: t.address, tls, apiKey: t.apiKey };
}

/**
 * The data converter every driftless process uses: the AES-GCM payload codec with the keys in
 * DRIFTLESS_CODEC_KEY / DRIFTLESS_CODEC_PREVIOUS_KEYS (a pass-through codec when none is set).
 * Throws a CodecError naming the variable when a key is malformed.
 */
export function dataConverterFromEnv(env: NodeJS.ProcessEnv = process.env) {
  return { payloadCodecs: [codecFromEnv(env)] };
}
