/**
 * `agent.temporal`: how agents on cloud instances reach Temporal. A cloud instance cannot use the
 * worker's own address (often a name inside its network or 127.0.0.1), and must never carry a
 * literal credential in its user data or metadata: it gets the address, namespace, TLS name and
 * CA (all public), and where to fetch its API key or client certificate with its own role.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { TlsSettings } from '../temporal-connection';

const AWS_SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/;
const GCP_SECRET_NAME = /^projects\/[^/]+\/secrets\/[^/]+(\/versions\/[^/]+)?$/;
const SECRET_REF_EXPECTED =
  'expected where the instance fetches the secret with its own role: { awsSecret: <Secrets Manager ARN> } and/or { gcpSecret: projects/P/secrets/S[/versions/V] }, never the secret itself';

/** Where a cloud instance fetches a secret with its own role; one entry per cloud it runs on. */
export const SecretRef = z
  .strictObject(
    {
      /** An AWS Secrets Manager ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME). */
      awsSecret: z
        .string()
        .regex(AWS_SECRET_ARN, { error: 'expected an ARN arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME' })
        .optional(),
      /** A GCP Secret Manager secret or version: projects/P/secrets/S[/versions/V] (latest when no version). */
      gcpSecret: z
        .string()
        .regex(GCP_SECRET_NAME, { error: 'expected projects/PROJECT/secrets/NAME[/versions/VERSION]' })
        .optional(),
    },
    { error: SECRET_REF_EXPECTED },
  )
  .refine((r) => r.awsSecret !== undefined || r.gcpSecret !== undefined, { error: SECRET_REF_EXPECTED });
export type SecretRef = z.output<typeof SecretRef>;

/**
 * How agents on cloud instances reach Temporal: an address they can reach (not the worker's
 * own, which is often a name inside its network), TLS, and where they fetch their credentials.
 */
export const AgentTemporalConfig = z
  .strictObject({
    /** host:port of the Temporal frontend as a cloud instance reaches it. */
    address: z
      .string({ error: 'expected host:port of the Temporal frontend as cloud instances reach it' })
      .min(1),
    /** @default the worker's namespace */
    namespace: z.string().min(1).optional(),
    /** TLS to the frontend: true (the system roots) or the server's name and CA. @default on with an API key */
    tls: z
      .union([
        z.boolean(),
        z.strictObject({
          /** The name the server's certificate carries, when it differs from the address. */
          serverName: z.string().min(1).optional(),
          /** The server's CA certificate (PEM), read by the worker; public, so it travels in the boot script. */
          caFile: z.string().min(1).optional(),
        }),
      ])
      .optional(),
    /** The Temporal API key (Temporal Cloud), fetched by the instance. */
    apiKey: SecretRef.optional(),
    /** mTLS: the client certificate (PEM), fetched by the instance. */
    clientCert: SecretRef.optional(),
    /** mTLS: the client certificate's key (PEM), fetched by the instance. */
    clientKey: SecretRef.optional(),
  })
  .refine((t) => (t.clientCert === undefined) === (t.clientKey === undefined), {
    error: 'expected clientCert and clientKey together (a client certificate and its key) or neither',
    path: ['clientKey'],
  });

export type AgentTemporalConfig = z.output<typeof AgentTemporalConfig>;

/** agent.temporal resolved: the CA read, the namespace defaulted. */
export interface CloudAgentTemporal {
  address: string;
  namespace: string;
  /** Undefined: plaintext. Public settings only. */
  tls?: Pick<TlsSettings, 'serverName' | 'serverCaPem'>;
  apiKey?: SecretRef;
  clientCert?: SecretRef;
  clientKey?: SecretRef;
}

/**
 * Resolves agent.temporal; `source` is the config file (caFile is relative to it). Throws an
 * Error naming agent.temporal.tls.caFile when the CA cannot be read or is not PEM (loadConfig
 * turns it into a ConfigError).
 */
export function resolveAgentTemporal(
  t: AgentTemporalConfig,
  workerNamespace: string,
  source: string | undefined,
): CloudAgentTemporal {
  const tlsOn = t.tls === undefined ? t.apiKey !== undefined || t.clientCert !== undefined : t.tls !== false;
  let tls: CloudAgentTemporal['tls'];
  if (tlsOn) {
    tls = {};
    if (typeof t.tls === 'object') {
      if (t.tls.serverName) tls.serverName = t.tls.serverName;
      if (t.tls.caFile) tls.serverCaPem = readCa(t.tls.caFile, source);
    }
  }
  return {
    address: t.address,
    namespace: t.namespace ?? workerNamespace,
    ...(tls ? { tls } : {}),
    ...(t.apiKey ? { apiKey: t.apiKey } : {}),
    ...(t.clientCert ? { clientCert: t.clientCert } : {}),
    ...(t.clientKey ? { clientKey: t.clientKey } : {}),
  };
}

function readCa(file: string, source: string | undefined): string {
  const path = source ? resolve(source, '..', file) : resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(
      `agent.temporal.tls.caFile: cannot read ${path} (${(err as NodeJS.ErrnoException).code})`,
    );
  }
  if (!/-----BEGIN CERTIFICATE-----/.test(text)) {
    throw new Error(`agent.temporal.tls.caFile: expected a PEM certificate, ${path} is not one`);
  }
  return text;
}
