import { readFileSync } from 'node:fs';
import type { Config } from './config/config';

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
