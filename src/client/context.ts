import type { Command } from 'commander';
import { loadConfig, type Config } from '../config/config';
import type { WorkloadService } from './services/workloads';

/** Options every command accepts (declared on the root program). */
export interface GlobalOptions {
  config?: string;
  address?: string;
  namespace?: string;
  profile?: string;
  taskQueue?: string;
  stateDir?: string;
}

/** Resolves the config from the root program's options (flag > env > file > default). */
export function configFrom(cmd: Command): Promise<Config> {
  const o = cmd.optsWithGlobals<GlobalOptions>();
  return loadConfig({
    configPath: o.config,
    temporalAddress: o.address,
    namespace: o.namespace,
    profile: o.profile,
    taskQueue: o.taskQueue,
    stateDir: o.stateDir,
  });
}

/** Writes one result to stdout: a JSON document with --json, text otherwise. */
export function output(json: boolean | undefined, value: unknown, text: () => string): void {
  process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : text() + '\n');
}

/** Progress for people: stderr, and only on a terminal, so pipes and scripts get results alone. */
export function progress(message: string): void {
  if (process.stderr.isTTY) process.stderr.write(message + '\n');
}

/** A status line of a long-running process (worker, dev server): always, on stderr. */
export function notice(message: string): void {
  process.stderr.write(message + '\n');
}

/**
 * Connects to Temporal, runs `fn` with the workload service, and closes the connection.
 * The Temporal client is loaded only here, so `validate` and `--help` start fast.
 */
export async function withWorkloads<T>(
  cmd: Command,
  fn: (svc: WorkloadService, config: Config) => Promise<T>,
): Promise<T> {
  const config = await configFrom(cmd);
  const { connectClient } = await import('./services/temporal-client');
  const { WorkloadService } = await import('./services/workloads');
  const client = await connectClient(config);
  try {
    return await fn(new WorkloadService(client, config), config);
  } finally {
    await client.connection.close();
  }
}
