/**
 * How every driftless process reaches Temporal. Settings come through @temporalio/envconfig, the
 * SDK's own loader: a profile of temporal.toml (TEMPORAL_CONFIG_FILE, else the user's config
 * directory; TEMPORAL_PROFILE or --profile picks it) and the standard TEMPORAL_* variables
 * (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS, TEMPORAL_TLS_*). The
 * certificate files are read here, once, so that a missing or malformed one is a clear error
 * before anything connects.
 */
import { readFileSync } from 'node:fs';
import { loadClientConfigProfile, type ClientConfigProfile } from '@temporalio/envconfig';
import { codecFromEnv } from './codec/aes-gcm';

/** The variables that tell a cloud agent where to fetch each secret ("aws:<ARN>", "gcp:<name>"). */
export const SECRET_ENV = {
  apiKey: 'DRIFTLESS_TEMPORAL_API_KEY_SECRET',
  clientCert: 'DRIFTLESS_TEMPORAL_CLIENT_CERT_SECRET',
  clientKey: 'DRIFTLESS_TEMPORAL_CLIENT_KEY_SECRET',
  codecKey: 'DRIFTLESS_CODEC_KEY_SECRET',
} as const;

/** A resolved Temporal connection: everything read, nothing left to load. */
export interface TemporalConnection {
  address: string;
  namespace: string;
  apiKey?: string;
  /** Undefined: plaintext. PEM text for each certificate given. */
  tls?: TlsSettings;
  /** gRPC metadata sent with every call (TEMPORAL_GRPC_META_*, a profile's grpc_meta). */
  metadata?: Record<string, string>;
}

export interface TlsSettings {
  serverName?: string;
  /** CA of the server; the system's roots when unset. */
  serverCaPem?: string;
  clientCertPem?: string;
  clientKeyPem?: string;
}

/** A connection setting is wrong (a missing certificate, an unknown profile): the user must fix it. */
export class ConnectionSettingsError extends Error {
  override readonly name = 'ConnectionSettingsError';
}

/** What a caller adds on top of envconfig's sources; each wins over them when set. */
export interface ConnectionOverrides {
  /** From a flag: wins over everything. */
  address?: string;
  namespace?: string;
  profile?: string;
  /** From driftless.config.yaml: loses to the environment, wins over temporal.toml. */
  fileAddress?: string;
  fileNamespace?: string;
  fileProfile?: string;
  /** Read only the environment (agents: their provider gave them everything). */
  envOnly?: boolean;
}

const DEFAULT_ADDRESS = '127.0.0.1:7233';

type TomlTls = NonNullable<ClientConfigProfile['tls']>;
type DataSource = TomlTls['clientCert'];

/**
 * Resolves the connection with precedence flag > TEMPORAL_* environment > driftless.config.yaml >
 * the temporal.toml profile > defaults. Throws ConnectionSettingsError naming the setting when a
 * profile is unknown, a file cannot be read or a certificate is not PEM.
 */
export function resolveConnection(
  o: ConnectionOverrides = {},
  env: NodeJS.ProcessEnv = process.env,
): TemporalConnection {
  const vars = definedEnv(env);
  const profileName = o.profile ?? vars.TEMPORAL_PROFILE ?? o.fileProfile;
  let file: ClientConfigProfile = {};
  if (!o.envOnly) {
    try {
      file = loadClientConfigProfile({ profile: profileName, disableEnv: true, overrideEnvVars: vars });
    } catch (err) {
      const where = vars.TEMPORAL_CONFIG_FILE ?? 'temporal.toml';
      throw new ConnectionSettingsError(
        profileName
          ? `profile "${profileName}" (TEMPORAL_PROFILE / --profile): ${(err as Error).message} in ${where}`
          : `cannot read ${where}: ${(err as Error).message}`,
      );
    }
  }
  let fromEnv: ClientConfigProfile;
  try {
    fromEnv = loadClientConfigProfile({ disableFile: true, overrideEnvVars: vars });
  } catch (err) {
    throw new ConnectionSettingsError(`TEMPORAL_* environment: ${(err as Error).message}`);
  }
  const fileLabel = profileName ? `profile "${profileName}"` : 'temporal.toml';
  const tlsEnv = fromEnv.tls;
  const tlsFile = file.tls;
  const apiKey = fromEnv.apiKey ?? file.apiKey;
  const disabled = tlsEnv?.disabled ?? tlsFile?.disabled;
  const anyTls = tlsEnv !== undefined || tlsFile !== undefined;
  // TLS when asked for, when any TLS setting is given, or with an API key; off only when disabled.
  const tlsOn = disabled === true ? false : anyTls || apiKey !== undefined;
  const pick = (name: keyof TomlTls, envName: string, fileKey: string) => {
    const fromE = tlsEnv?.[name] as DataSource | undefined;
    if (fromE !== undefined) return readSource(fromE, envName.replace(/_(PATH|DATA)$/, ''));
    const fromF = tlsFile?.[name] as DataSource | undefined;
    return fromF === undefined ? undefined : readSource(fromF, `${fileLabel} tls.${fileKey}`);
  };
  let tls: TlsSettings | undefined;
  if (tlsOn) {
    tls = {
      serverName: tlsEnv?.serverName ?? tlsFile?.serverName,
      serverCaPem: pick('serverCACert', 'TEMPORAL_TLS_SERVER_CA_CERT_PATH', 'server_ca_cert_path'),
      clientCertPem: pick('clientCert', 'TEMPORAL_TLS_CLIENT_CERT_PATH', 'client_cert_path'),
      clientKeyPem: pick('clientKey', 'TEMPORAL_TLS_CLIENT_KEY_PATH', 'client_key_path'),
    };
    if ((tls.clientCertPem === undefined) !== (tls.clientKeyPem === undefined)) {
      throw new ConnectionSettingsError(
        'TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH: expected both (a client certificate and its key) or neither',
      );
    }
    tls = Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined)) as TlsSettings;
  }
  const metadata = { ...file.grpcMeta, ...fromEnv.grpcMeta };
  return {
    address: o.address ?? fromEnv.address ?? o.fileAddress ?? file.address ?? DEFAULT_ADDRESS,
    namespace: o.namespace ?? fromEnv.namespace ?? o.fileNamespace ?? file.namespace ?? 'default',
    ...(apiKey !== undefined ? { apiKey } : {}),
    ...(tls ? { tls } : {}),
    ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
  };
}

/** The environment with empty values dropped (an empty variable reads as unset). */
function definedEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== '')) as Record<
    string,
    string
  >;
}

/** A certificate or key from a path or inline data, checked to be PEM. `setting` names where it came from. */
function readSource(source: DataSource, setting: string): string | undefined {
  if (source === undefined) return undefined;
  let text: string;
  if ('path' in source) {
    try {
      text = readFileSync(source.path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new ConnectionSettingsError(`${setting}: cannot read ${source.path} (${code})`);
    }
  } else {
    text = typeof source.data === 'string' ? source.data : Buffer.from(source.data).toString('utf8');
  }
  if (!/-----BEGIN [A-Z0-9 ]+-----/.test(text)) {
    const what = 'path' in source ? source.path : 'the value';
    throw new ConnectionSettingsError(`${setting}: expected a PEM certificate or key, ${what} is not one`);
  }
  return text;
}

/** The options the client's Connection and the worker's NativeConnection take. */
export function connectionOptions(t: TemporalConnection) {
  const tls = t.tls
    ? {
        serverNameOverride: t.tls.serverName,
        serverRootCACertificate: t.tls.serverCaPem ? Buffer.from(t.tls.serverCaPem) : undefined,
        clientCertPair:
          t.tls.clientCertPem && t.tls.clientKeyPem
            ? { crt: Buffer.from(t.tls.clientCertPem), key: Buffer.from(t.tls.clientKeyPem) }
            : undefined,
      }
    : // false, not undefined: the SDK would turn TLS on for an API key.
      false;
  return { address: t.address, tls, apiKey: t.apiKey, metadata: t.metadata };
}

/**
 * The TEMPORAL_* variables that give another process this connection (a local agent): TLS
 * material inline (*_DATA), TEMPORAL_TLS stated either way so that an API key alone does not
 * turn TLS on where the worker had it off.
 */
export function connectionEnv(t: TemporalConnection): Record<string, string> {
  const env: Record<string, string> = {
    TEMPORAL_ADDRESS: t.address,
    TEMPORAL_NAMESPACE: t.namespace,
    TEMPORAL_TLS: t.tls ? 'true' : 'false',
  };
  if (t.apiKey !== undefined) env.TEMPORAL_API_KEY = t.apiKey;
  if (t.tls?.serverName) env.TEMPORAL_TLS_SERVER_NAME = t.tls.serverName;
  if (t.tls?.serverCaPem) env.TEMPORAL_TLS_SERVER_CA_CERT_DATA = t.tls.serverCaPem;
  if (t.tls?.clientCertPem) env.TEMPORAL_TLS_CLIENT_CERT_DATA = t.tls.clientCertPem;
  if (t.tls?.clientKeyPem) env.TEMPORAL_TLS_CLIENT_KEY_DATA = t.tls.clientKeyPem;
  for (const [k, v] of Object.entries(t.metadata ?? {})) {
    env[`TEMPORAL_GRPC_META_${k.toUpperCase().replace(/-/g, '_')}`] = v;
  }
  return env;
}

/**
 * Temporal could not be reached or refused us. `auth` is set when the server refused our
 * credentials (a wrong API key, a client certificate it does not accept, none where one is
 * required): the user's settings are wrong, not the network.
 */
export class TemporalConnectError extends Error {
  override readonly name = 'TemporalConnectError';
  constructor(
    message: string,
    readonly auth: boolean,
  ) {
    super(message);
  }
}

const AUTH_FAILURE =
  /unauthenticated|unauthorized|authentication credentials|permission ?denied|\b40[13]\b|certificate|handshake|bad ?record|alert|invalid ?peer/i;

/** The error to throw when connecting to `t` failed with `err`. */
export function connectError(t: Pick<TemporalConnection, 'address'>, err: unknown): TemporalConnectError {
  // The client's Connection says only "Failed to connect"; the gRPC status is its cause.
  const cause = (err as { cause?: { message?: string } })?.cause?.message;
  const text = [String((err as Error)?.message ?? err), cause].filter(Boolean).join(': ');
  const auth = AUTH_FAILURE.test(text);
  return new TemporalConnectError(
    auth
      ? `Temporal at ${t.address} refused the connection's credentials: ${text}`
      : `cannot reach Temporal at ${t.address}: ${text}`,
    auth,
  );
}

/**
 * The data converter every driftless process uses: the AES-GCM payload codec with the keys in
 * DRIFTLESS_CODEC_KEY / DRIFTLESS_CODEC_PREVIOUS_KEYS (a pass-through codec when none is set).
 * Throws a CodecError naming the variable when a key is malformed.
 */
export function dataConverterFromEnv(env: NodeJS.ProcessEnv = process.env) {
  return { payloadCodecs: [codecFromEnv(env)] };
}
