/**
 * A real EC2 API on loopback: moto's server (PyPI `moto[server]`). Found on PATH, else in the
 * tool cache, else installed there with pip once. Each `startMoto()` runs its own server on a
 * free 127.0.0.1 port.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../src/common/free-port';

/** The moto version installed when none is found. */
export const MOTO_VERSION = '5.2.5';

/** Fake credentials for the SDK clients that talk to moto (never set globally). */
export const MOTO_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' } as const;

/** An Ubuntu image name moto ships in every region, owned by "amazon". */
export const MOTO_IMAGE_NAME = 'ubuntu/images/hvm-ssd/ubuntu-xenial-16.04-amd64-server-*';

/** A plain SDK client on moto, for looking behind the provider's back; by default no retries. */
export function motoEc2(endpoint: string, region: string, maxAttempts = 1): EC2Client {
  return new EC2Client({ region, endpoint, credentials: MOTO_CREDENTIALS, maxAttempts });
}

/**
 * The environment a worker or CLI process needs to reach moto through the SDK's default chain:
 * moto's credentials, no instance metadata lookups, and the region when given.
 */
export function motoEnv(region?: string): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
    AWS_EC2_METADATA_DISABLED: 'true',
    ...(region ? { AWS_REGION: region } : {}),
  };
}

export interface MotoServer {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  /** Forgets every resource (POST /moto-api/reset). */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

interface MotoCommand {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** Where it was found, for messages. */
  origin: string;
}

const run = promisify(execFile);

/** `${XDG_CACHE_HOME:-~/.cache}/driftless/moto` */
export function motoCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'driftless', 'moto');
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

let installing: Promise<void> | undefined;

/** pip-installs moto into `<cache>/lib`, through a temporary directory so a half install never counts. */
async function installMoto(cache: string): Promise<void> {
  const lib = join(cache, 'lib');
  const tmp = join(cache, `lib.tmp-${process.pid}-${Date.now()}`);
  await mkdir(cache, { recursive: true });
  try {
    await run(
      'python3',
      ['-m', 'pip', 'install', '--quiet', '--no-input', '--target', tmp, `moto[server]==${MOTO_VERSION}`],
      { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    const e = err as Error & { stderr?: string };
    throw new Error(
      `cannot install moto[server]==${MOTO_VERSION} with pip (python3 -m pip): ${e.stderr?.trim() || e.message}`,
    );
  }
  try {
    await rename(tmp, lib);
  } catch {
    // Another test process finished first; its copy is as good.
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * How to run moto_server: PATH (unless DRIFTLESS_MOTO_NO_PATH=1, to force the pinned version),
 * then `<cache>/bin/moto_server`, then `python3 -m moto.server` from `<cache>/lib`, installing it
 * there first when missing.
 */
export async function findMoto(env: NodeJS.ProcessEnv = process.env): Promise<MotoCommand> {
  const fromPath = env.DRIFTLESS_MOTO_NO_PATH === '1' ? undefined : onPath('moto_server', env);
  if (fromPath) return { command: fromPath, args: [], env: {}, origin: fromPath };
  const cache = motoCacheDir(env);
  const bin = join(cache, 'bin', 'moto_server');
  if (existsSync(bin)) return { command: bin, args: [], env: {}, origin: bin };
  const lib = join(cache, 'lib');
  if (!existsSync(join(lib, 'moto', '__init__.py'))) {
    installing ??= installMoto(cache).finally(() => (installing = undefined));
    await installing;
  }
  const pythonPath = [lib, env.PYTHONPATH].filter(Boolean).join(delimiter);
  return {
    command: 'python3',
    args: ['-m', 'moto.server'],
    env: { PYTHONPATH: pythonPath },
    origin: `python3 -m moto.server (PYTHONPATH=${lib})`,
  };
}

async function answers(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Starts a moto server on a free loopback port and waits until it answers. */
export async function startMoto(opts: { timeoutMs?: number } = {}): Promise<MotoServer> {
  const moto = await findMoto();
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn(moto.command, [...moto.args, '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...moto.env },
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  while (!(await answers(endpoint))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stopChild(child);
      process.removeListener('exit', killOnExit);
      throw new Error(`moto (${moto.origin}) did not start on ${endpoint}:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    endpoint,
    async reset() {
      const res = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`moto reset answered ${res.status}`);
    },
    async stop() {
      process.removeListener('exit', killOnExit);
      await stopChild(child);
    },
  };
}
