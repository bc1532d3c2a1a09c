/**
 * What the local provider keeps on disk under `<stateDir>/local`: one directory per instance
 * (its record, the agent's status and logs) and a marker per pool that is down.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ProcessIdentity } from '../../common/processes';
import type { InstanceOwner, Offer } from '../types';

/** Modes of what the provider and the agents keep here: this user's alone (a workload run as another user reads none of it). */
export const PRIVATE_DIR = 0o700;
export const PRIVATE_FILE = 0o600;

/** What the local provider records about one instance (instances/<id>/instance.json). */
export interface LocalInstanceRecord {
  id: string;
  pool: string;
  idempotencyKey: string;
  labels: InstanceOwner;
  offer: Offer;
  /** GPU indexes given to the instance (CUDA_VISIBLE_DEVICES). */
  gpuIndexes: number[];
  /** The user its workload runs as (the pool's runAs), when not the agent's own. */
  runAs?: string;
  createdAt: string;
  /** The agent's process: its own, or the pool's agent host when `hosted`. */
  agent?: ProcessIdentity;
  /** The agent runs inside the pool's agent host (scale mode), not in a process of its own. */
  hosted?: boolean;
  terminatedAt?: string;
  /** Why it ended when the provider ended it: "terminate" or "pool-down". */
  terminatedBy?: 'terminate' | 'pool-down';
}

/** Written by the agent into the instance directory. */
export interface AgentStatusFile {
  pid: number;
  ready: boolean;
  workload?: ProcessIdentity;
  /** The workload's stop grace (recovery.stopGrace), which a terminate gives the agent to use. */
  stopGraceMs?: number;
  /** The agent has ended inside an agent host that lives on (scale mode): the instance is gone. */
  gone?: boolean;
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** The local provider's state directory. */
export class LocalStateDir {
  readonly root: string;

  constructor(stateDir: string) {
    this.root = join(resolve(stateDir), 'local');
  }

  instanceDir(id: string): string {
    return join(this.root, 'instances', id);
  }

  /** Creates the instance's directory: the agent's, readable by this user only (0700). */
  async makeInstanceDir(id: string): Promise<void> {
    await mkdir(this.instanceDir(id), { recursive: true, mode: PRIVATE_DIR });
    await chmod(this.instanceDir(id), PRIVATE_DIR);
  }

  private downMarker(pool: string): string {
    return join(this.root, 'pools', `${pool}.down`);
  }

  isPoolDown(pool: string): boolean {
    return existsSync(this.downMarker(pool));
  }

  /** Marks a pool down (writes its marker) or up (removes it). */
  async markPool(pool: string, down: boolean): Promise<void> {
    await mkdir(join(this.root, 'pools'), { recursive: true, mode: PRIVATE_DIR });
    if (down) await writeFile(this.downMarker(pool), new Date().toISOString(), { mode: PRIVATE_FILE });
    else await rm(this.downMarker(pool), { force: true });
  }

  readRecord(id: string): Promise<LocalInstanceRecord | undefined> {
    return readJson(join(this.instanceDir(id), 'instance.json'));
  }

  async writeRecord(rec: LocalInstanceRecord): Promise<void> {
    const file = join(this.instanceDir(rec.id), 'instance.json');
    // A temporary name of its own per write: the worker, `pool down` and a retried activity may
    // write the same record at once, and a shared name would be renamed away under one of them.
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify(rec, null, 2), { mode: PRIVATE_FILE });
    await rename(tmp, file);
  }

  readAgentStatus(id: string): Promise<AgentStatusFile | undefined> {
    return readJson(join(this.instanceDir(id), 'agent.json'));
  }

  /**
   * Every instance record (of one pool, when given), live or not (frozen: they may be shared
   * with later calls). Each
   * placement reads them all, so a record is parsed again only once its file has been replaced
   * (every write renames a new file into place, which changes its inode).
   */
  async records(pool?: string): Promise<LocalInstanceRecord[]> {
    let ids: string[] = [];
    try {
      ids = await readdir(join(this.root, 'instances'));
    } catch {
      return [];
    }
    // An instance never changes pools: one known to be elsewhere is not looked at again.
    if (pool !== undefined) ids = ids.filter((id) => (this.parsed.get(id)?.rec.pool ?? pool) === pool);
    const recs = await Promise.all(ids.map((id) => this.cachedRecord(id)));
    return recs.filter((r): r is LocalInstanceRecord => !!r && (pool === undefined || r.pool === pool));
  }

  private readonly parsed = new Map<string, { ino: number; mtimeMs: number; rec: LocalInstanceRecord }>();

  private async cachedRecord(id: string): Promise<LocalInstanceRecord | undefined> {
    const file = join(this.instanceDir(id), 'instance.json');
    const st = await stat(file).catch(() => undefined);
    if (!st) return undefined;
    const had = this.parsed.get(id);
    if (had && had.ino === st.ino && had.mtimeMs === st.mtimeMs) return had.rec;
    const rec = await readJson<LocalInstanceRecord>(file);
    // Parsed after the stat: a file replaced in between is read again next time, never missed.
    if (rec) this.parsed.set(id, { ino: st.ino, mtimeMs: st.mtimeMs, rec: Object.freeze(rec) });
    return rec;
  }
}
