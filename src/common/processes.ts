import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** A process known by pid *and* start time, so a reused pid is never mistaken for ours. */
export interface ProcessIdentity {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks since boot when the process started. */
  startTime: string;
}

function readStat(pid: number): { state: string; pgid: number; startTime: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0] ?? '?', pgid: Number(rest[2]), startTime: rest[19] ?? '' };
  } catch {
    return undefined;
  }
}

/** Identity of a live process, or undefined when it is gone. */
export function identify(pid: number): ProcessIdentity | undefined {
  const s = readStat(pid);
  return s && s.state !== 'Z' ? { pid, startTime: s.startTime } : undefined;
}

/** True while that very process (not a later one with its pid) runs; zombies count as dead. */
export function isAlive(id: ProcessIdentity | undefined): boolean {
  if (!id) return false;
  const s = readStat(id.pid);
  return !!s && s.state !== 'Z' && s.startTime === id.startTime;
}

/**
 * One process as a scan sees it. Each fact is read from /proc only when asked for; a process
 * that exits meanwhile, or whose facts this user may not read, makes the read throw.
 */
export interface ProcessFacts {
  readonly pid: number;
  /** Process group id. */
  readonly pgid: number;
  /** argv, from /proc/<pid>/cmdline. */
  readonly argv: string[];
  /** "NAME=value" entries of the environment it started with. */
  readonly environ: string[];
  /** Working directory; a deleted one still reads as its old path (without " (deleted)"). */
  readonly cwd: string;
  /** The value of one variable of its environment. */
  env(name: string): string | undefined;
}

class ScannedProcess implements ProcessFacts {
  constructor(
    readonly pid: number,
    readonly pgid: number,
  ) {}
  get argv(): string[] {
    return readFileSync(`/proc/${this.pid}/cmdline`, 'utf8').split('\0');
  }
  get environ(): string[] {
    return readFileSync(`/proc/${this.pid}/environ`, 'utf8').split('\0');
  }
  get cwd(): string {
    return readlinkSync(`/proc/${this.pid}/cwd`).replace(/ \(deleted\)$/, '');
  }
  env(name: string): string | undefined {
    return this.environ.find((e) => e.startsWith(`${name}=`))?.slice(name.length + 1);
  }
}

/**
 * The one /proc scan: for every live process (zombies excluded), what `pick` makes of it;
 * `undefined` leaves it out, as does a read that fails because it exited while looked at.
 */
export function scanProcesses<T>(pick: (p: ProcessFacts) => T | undefined): T[] {
  const out: T[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const s = readStat(Number(e));
    if (!s || s.state === 'Z') continue;
    try {
      const v = pick(new ScannedProcess(Number(e), s.pgid));
      if (v !== undefined) out.push(v);
    } catch {
      /* gone while we looked, or not ours to read */
    }
  }
  return out;
}

/** Pids of the live processes for which `match` holds. */
export function pidsWhere(match: (p: ProcessFacts) => boolean): number[] {
  return scanProcesses((p) => (match(p) ? p.pid : undefined));
}

/** Live members of a process group. */
export function groupMembers(pgid: number): number[] {
  return pidsWhere((p) => p.pgid === pgid);
}

/** The first live process whose argv satisfies `match`. */
export function findProcess(match: (argv: string[]) => boolean): ProcessIdentity | undefined {
  return scanProcesses((p) => (match(p.argv) ? identify(p.pid) : undefined))[0];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Ends a whole process group led by `leader`: SIGTERM, then SIGKILL after `graceMs`.
 * Members that outlived a killed leader are still reached through the group id.
 */
export async function killGroup(leader: ProcessIdentity | undefined, graceMs = 3000): Promise<void> {
  if (!leader) return;
  const pgid = leader.pid;
  const leaderStat = readStat(pgid);
  // A live process with that pid but another start time means the pid was reused, which the
  // kernel only allows once our group has no members left: nothing of ours remains.
  if (leaderStat && leaderStat.startTime !== leader.startTime) return;
  if (!groupLives(pgid)) return;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pgid, sig);
    } catch {
      /* ESRCH: already gone */
    }
  };
  signal('SIGTERM');
  // A stopped (SIGSTOP, a debugger) member cannot act on SIGTERM until it runs again: wake the
  // group, as init systems do, so that its grace is a grace and not a wait for SIGKILL.
  signal('SIGCONT');
  const deadline = Date.now() + graceMs;
  for (let i = 1; Date.now() < deadline; i++) {
    // The cheap check every time; the /proc scan (members left only as zombies count as gone)
    // every 10th: a machine with a thousand workloads stopping at once would scan /proc
    // 20 times a second per workload otherwise.
    if (!groupExists(pgid) || (i % 10 === 0 && !groupLives(pgid))) return;
    await sleep(50);
  }
  signal('SIGKILL');
  for (let i = 0; i < 40 && groupLives(pgid); i++) await sleep(25);
}

/** Whether any process (zombies too) is in the group: one signal-0, no /proc scan. */
function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the group has a live (not zombie) member; scans /proc only when it has any member. */
function groupLives(pgid: number): boolean {
  return groupExists(pgid) && groupMembers(pgid).length > 0;
}
