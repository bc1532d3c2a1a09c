/**
 * Status polls in the test process: a wait that checks a workload every 200–300 ms asks the
 * worker through one Temporal client instead of starting a node process (the CLI) each time.
 * The view is the one `driftless status --json` prints (the same WorkloadService, through JSON).
 */
import { Client, Connection } from '@temporalio/client';
import { WorkloadService } from '../../src/client/services/workloads';
import { loadConfig } from '../../src/config/config';
import { connectionOptions, dataConverterFromEnv } from '../../src/temporal-connection';
import type { StatusJson } from './harness';

interface Open {
  client: Client;
  service: WorkloadService;
}

export class StatusPoller {
  /** The environment the open client was made for; a test that changes it gets a new client. */
  private key?: string;
  private open?: Promise<Open>;

  async status(env: NodeJS.ProcessEnv, name: string): Promise<StatusJson> {
    const key = JSON.stringify(env);
    if (key !== this.key) {
      await this.close();
      this.key = key;
      this.open = connect(env);
      this.open.catch(() => (this.key = undefined)); // the next poll tries again
    }
    const { service } = await this.open!;
    return JSON.parse(JSON.stringify(await service.status(name))) as StatusJson;
  }

  async close(): Promise<void> {
    const open = this.open;
    this.open = undefined;
    this.key = undefined;
    if (!open) return;
    try {
      await (await open).client.connection.close();
    } catch {
      /* never connected */
    }
  }
}

async function connect(env: NodeJS.ProcessEnv): Promise<Open> {
  const config = await loadConfig({}, env);
  const connection = await Connection.connect({
    ...connectionOptions(config.temporal),
    connectTimeout: 5000,
  });
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: dataConverterFromEnv(env),
  });
  return { client, service: new WorkloadService(client, config) };
}
