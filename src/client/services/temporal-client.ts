import { Client, Connection } from '@temporalio/client';
import type { Config } from '../../config/config';
import { CodecError } from '../../codec/aes-gcm';
import {
  connectError,
  connectionOptions,
  dataConverterFromEnv,
  type TemporalConnectError,
} from '../../temporal-connection';
import { CliError, ExitCode } from '../errors';

/** Connects to Temporal or explains what to do when nothing answers. */
export async function connectClient(config: Config, timeoutMs = 5000): Promise<Client> {
  let dataConverter;
  try {
    dataConverter = dataConverterFromEnv();
  } catch (err) {
    if (err instanceof CodecError) throw new CliError(err.message, ExitCode.Usage);
    throw err;
  }
  try {
    const connection = await Connection.connect({
      ...connectionOptions(config.temporal),
      connectTimeout: timeoutMs,
    });
    return new Client({ connection, namespace: config.temporal.namespace, dataConverter });
  } catch (err) {
    throw cliConnectError(connectError(config.temporal, err));
  }
}

/** What the CLI says when Temporal cannot be reached (exit 3) or refuses our credentials (exit 2). */
export function cliConnectError(err: TemporalConnectError): CliError {
  return err.auth
    ? new CliError(
        err.message,
        ExitCode.Usage,
        'check TEMPORAL_API_KEY / TEMPORAL_TLS_CLIENT_CERT_PATH and _KEY_PATH, or the profile (--profile, TEMPORAL_PROFILE)',
      )
    : new CliError(
        err.message,
        ExitCode.Failed,
        'start a local server and worker with `driftless dev`, or set TEMPORAL_ADDRESS / --address / --profile',
      );
}
