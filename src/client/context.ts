import type { Command } from 'commander';
import { loadConfig, type Config } from '../config/config';

/** Options every command accepts (declared on the root program). */
export interface GlobalOptions {
  config?: string;
  address?: string;
  namespace?: string;
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
    taskQueue: o.taskQueue,
    stateDir: o.stateDir,
  });
}

/** Writes one result to stdout: a JSON document with --json, text otherwise. */
export function output(json: boolean | undefined, value: unknown, text: () => string): void {
  process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : text() + '\n');
}

/** Progress for people: stderr, so stdout stays parseable. */
export function progress(message: string): void {
  process.stderr.write(message + '\n');
}
