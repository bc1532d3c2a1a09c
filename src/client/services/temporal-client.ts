import { Client, Connection } from '@temporalio/client';
import type { Config } from '../../config/config';
import { CodecError } from '../../codec/aes-gcm';
import { connectionOptions, dataConverterFromEnv } from '../../temporal-connection';
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
    throw new CliError(
      `cannot reach Temporal at ${config.temporal.address}: ${(err as Error).message}`,
      ExitCode.Failed,
      'start a local server and worker with `driftless dev`, or set TEMPORAL_ADDRESS / --address',
    );
  }
}
