import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../../common/names';
import { CliError, ExitCode } from '../errors';
import { packageRoot } from '../../package-root';

/**
 * Path of the Temporal CLI: on PATH, in the tool cache, or installed there now
 * (scripts/ensure-temporal.sh decides; its progress goes to our stderr).
 */
export function ensureTemporalCli(): Promise<string> {
  const script = join(packageRoot(), 'scripts', 'ensure-temporal.sh');
  return new Promise((resolve, reject) => {
    const child = execFile('bash', [script], { maxBuffer: 1 << 20 }, (err, stdout) => {
      if (err) {
        reject(
          new CliError(
            'the Temporal CLI is not installed and could not be installed',
            ExitCode.Failed,
            'install it (brew install temporal) or set DRIFTLESS_TEMPORAL_BIN to its path',
          ),
        );
      } else resolve(stdout.trim().split('\n').pop()!);
    });
    child.stderr?.pipe(process.stderr);
  });
}

export { freePort } from '../../common/free-port';

/** Whether something accepts connections on 127.0.0.1:port. */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(true));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(false)));
  });
}

export interface DevServerOptions {
  /** @default 7233 */
  port?: number;
  /** @default 8233 */
  uiPort?: number;
  /** SQLite file; omitted means in memory. */
  dbFile?: string;
  /** Server output goes here. @default inherited stderr is not used; output is discarded */
  logFile?: string;
  /** @default false */
  headless?: boolean;
  /** @default the CLI found by {@link ensureTemporalCli} */
  binary?: string;
  /** @default 60000 */
  readyTimeoutMs?: number;
  /** The Web UI's remote codec endpoint (`--ui-codec-endpoint`). @default none */
  uiCodecEndpoint?: string;
  /**
   * Run the server in a process group of its own, so a Ctrl-C at the terminal (SIGINT to the
   * whole foreground group) reaches only us: the worker stops first, the server after, and the
   * worker never talks to a server that is already gone. @default false
   */
  ownProcessGroup?: boolean;
  /** Server settings (`--dynamic-config-value KEY=VALUE`), e.g. a benchmark's raised rate limits. @default none */
  dynamicConfig?: Record<string, string | number | boolean>;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts `temporal server start-dev` on 127.0.0.1 with the Driftless search attributes
 * registered, and waits until it answers.
 */
export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const binary = opts.binary ?? (await ensureTemporalCli());
  const port = opts.port ?? 7233;
  const uiPort = opts.uiPort ?? 8233;
  for (const p of opts.headless ? [port] : [port, uiPort]) {
    if (await portInUse(p)) {
      throw new CliError(
        `port ${p} on 127.0.0.1 is already in use`,
        ExitCode.Failed,
        'another Temporal dev server may be running; stop it or pass --port/--ui-port',
      );
    }
  }
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port)];
  if (opts.headless) args.push('--headless');
  else args.push('--ui-port', String(uiPort));
  if (opts.uiCodecEndpoint && !opts.headless) args.push('--ui-codec-endpoint', opts.uiCodecEndpoint);
  if (opts.dbFile) {
    mkdirSync(dirname(opts.dbFile), { recursive: true });
    args.push('--db-filename', opts.dbFile);
  }
  for (const a of Object.values(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${a.name}=${a.type}`);
  for (const [k, v] of Object.entries(opts.dynamicConfig ?? {})) {
    args.push('--dynamic-config-value', `${k}=${JSON.stringify(v)}`);
  }
  let out: number | 'ignore' = 'ignore';
  if (opts.logFile) {
    mkdirSync(dirname(opts.logFile), { recursive: true });
    out = openSync(opts.logFile, 'a');
  }
  const child = spawn(binary, args, { stdio: ['ignore', out, out], detached: opts.ownProcessGroup === true });
  if (typeof out === 'number') closeSync(out);
  let exited: number | null | undefined;
  const exitedPromise = new Promise<void>((r) =>
    child.once('exit', (code) => {
      exited = code;
      r();
    }),
  );
  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  const stop = async () => {
    if (exited !== undefined) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exitedPromise;
    clearTimeout(t);
  };
  for (;;) {
    if (exited !== undefined) {
      throw new CliError(
        `the Temporal dev server exited during startup (code ${exited})`,
        ExitCode.Failed,
        opts.logFile ? `see ${opts.logFile}` : undefined,
      );
    }
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await conn.workflowService.getSystemInfo({});
        await conn.workflowService.describeNamespace({ namespace: 'default' });
      } finally {
        await conn.close();
      }
      break;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new CliError(`the Temporal dev server did not answer on ${address}`, ExitCode.Failed);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return { address, uiUrl: opts.headless ? undefined : `http://127.0.0.1:${uiPort}`, process: child, stop };
}
