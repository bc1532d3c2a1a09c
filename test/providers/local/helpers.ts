/**
 * Helpers for the local provider tests: real child processes, tracked so that every test can
 * end whatever it started (by process group) and leave nothing behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { LocalProviderConfig } from '../../../src/providers/local/config';
import { LocalProvider } from '../../../src/providers/local/local-provider';
import { identify, isAlive, pidsWhere, type ProcessIdentity } from '../../../src/common/processes';
import type { InstanceOwner, Offer, ProvisionRequest } from '../../../src/providers/types';

/** Marks every process these tests start, so leaks are easy to spot in `ps`. */
export const MARKER = 'driftless-local-provider-test';

/** A harmless process that runs until it is killed. */
export const IDLE_SCRIPT = `/*${MARKER}*/setInterval(()=>{},1000)`;
/**
 * Stands in for the agent. The trailing `--` matters: without it node reads the
 * `--instance <id> --workload <name>` the provider appends as node options and exits with
 * "bad option" (status 9).
 */
export const IDLE_AGENT = [process.execPath, '-e', IDLE_SCRIPT, '--'];

export const silentLogger = pino({ level: 'silent' });

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it returns true; fails with `what` after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Live (non-zombie) pids whose command line contains `needle`. */
export function pidsWithArg(needle: string): number[] {
  return pidsWhere((p) => p.argv.includes(needle));
}

/** Process-group leaders (and lone processes) a test started; killed in `cleanup`. */
const started: ProcessIdentity[] = [];
const tempDirs: string[] = [];
const providers: LocalProvider[] = [];

export function track(id: ProcessIdentity | undefined): void {
  if (id) started.push(id);
}

export function tempStateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'driftless-local-test-'));
  tempDirs.push(dir);
  return dir;
}

function killGroupNow(id: ProcessIdentity): void {
  if (!isAlive(id) && !groupExists(id.pid)) return;
  // A live process with this pid but another start time is not ours: leave it alone.
  const now = identify(id.pid);
  if (now && now.startTime !== id.startTime) return;
  for (const target of [-id.pid, id.pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      /* already gone, or not a group leader */
    }
  }
}

function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Kills every process group the test started (agents, their children, workloads). */
export async function cleanup(): Promise<void> {
  for (const p of providers.splice(0)) {
    for (const rec of await p.records()) {
      if (rec.agent) started.push(rec.agent);
      const status = await p.readAgentStatus(rec.id);
      if (status?.workload) started.push(status.workload);
    }
  }
  for (const id of started.splice(0)) killGroupNow(id);
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Starts a detached (own process group) node process running `script`. */
export function spawnDetached(script: string): { child: ChildProcess; identity: ProcessIdentity } {
  const child = spawn(process.execPath, ['-e', `/*${MARKER}*/${script}`], {
    detached: true,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const identity = child.pid === undefined ? undefined : identify(child.pid);
  if (!identity) throw new Error('could not start a test process');
  track(identity);
  return { child, identity };
}

/** Resolves once the child prints `line` on stdout. */
export function waitForLine(child: ChildProcess, line: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no "${line}" from pid ${child.pid}`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.split('\n').includes(line)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

export function makeProvider(
  pools: Array<Record<string, unknown>>,
  agentCommand: string[] = IDLE_AGENT,
  stateDir = tempStateDir(),
): LocalProvider {
  const provider = new LocalProvider({
    config: LocalProviderConfig.parse({ pools }),
    stateDir,
    logger: silentLogger,
    agentCommand,
  });
  providers.push(provider);
  return provider;
}

export async function offerFor(provider: LocalProvider, pool: string, gpuCount: number): Promise<Offer> {
  const offer = (await provider.offers()).find((o) => o.region === pool && o.gpuCount === gpuCount);
  if (!offer) throw new Error(`no offer for ${gpuCount} GPUs in pool ${pool}`);
  return offer;
}

export function labels(over: Partial<InstanceOwner> = {}): InstanceOwner {
  return {
    owner: 'tester',
    namespace: 'default',
    installation: 'test-installation',
    workload: 'train',
    workflowId: 'workload-train',
    attempt: 1,
    ...over,
  };
}

export function request(offer: Offer, idempotencyKey: string, over: Partial<ProvisionRequest> = {}) {
  return {
    offer,
    idempotencyKey,
    labels: labels(),
    agent: { address: '127.0.0.1:7233', namespace: 'default' },
    ...over,
  } satisfies ProvisionRequest;
}
