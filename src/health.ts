/**
 * Liveness through a file: a long-running process (the worker) touches it every few seconds
 * while it is healthy, and a container's HEALTHCHECK (`driftless health`) fails when the file is
 * missing or older than a limit. A hung event loop, a worker that left RUNNING or a process that
 * exited all stop the touches, which a port probe would not see.
 */
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** The variable `driftless worker` and `driftless health` read the file's path from. */
export const HEALTH_FILE_ENV = 'DRIFTLESS_HEALTH_FILE';

/** How often the file is touched. */
export const DEFAULT_HEALTH_INTERVAL_MS = 5_000;

/** How old the file may be before the check fails: several missed touches, not one. */
export const DEFAULT_HEALTH_MAX_AGE_MS = 30_000;

export interface HealthBeatOptions {
  /** The file to touch; its directory is created. */
  file: string;
  /** Whether the process is healthy now: the file is touched only while this is true. */
  healthy: () => boolean;
  /** @default 5000 */
  intervalMs?: number;
  /** Called with an error writing the file (a full disk); the beat goes on. @default ignore */
  onError?: (err: unknown) => void;
}

export interface HealthBeat {
  /** Stops touching and removes the file, so the process reads unhealthy at once. */
  stop(): Promise<void>;
}

/** Touches `file` now (when healthy) and every `intervalMs` after, until stopped. */
export function startHealthBeat(opts: HealthBeatOptions): HealthBeat {
  const intervalMs = opts.intervalMs ?? DEFAULT_HEALTH_INTERVAL_MS;
  let pending: Promise<void> = Promise.resolve();
  let stopped = false;
  const beat = () => {
    if (stopped || !opts.healthy()) return;
    pending = touch(opts.file).catch((err: unknown) => opts.onError?.(err));
  };
  beat();
  const timer = setInterval(beat, intervalMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await pending;
      await rm(opts.file, { force: true }).catch((err: unknown) => opts.onError?.(err));
    },
  };
}

async function touch(file: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  // The content is for people; the check reads the modification time.
  await writeFile(file, new Date().toISOString() + '\n');
}

export type HealthCheckResult = { ok: true; ageMs: number } | { ok: false; reason: string; ageMs?: number };

/** Whether `file` exists and was touched within `maxAgeMs` of `now`. */
export async function checkHealthFile(
  file: string,
  maxAgeMs: number = DEFAULT_HEALTH_MAX_AGE_MS,
  now: number = Date.now(),
): Promise<HealthCheckResult> {
  let mtimeMs: number;
  try {
    mtimeMs = (await stat(file)).mtimeMs;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return {
      ok: false,
      reason:
        code === 'ENOENT'
          ? `no health file ${file} (the process has not started yet, or has stopped)`
          : `cannot read health file ${file}: ${code ?? String(err)}`,
    };
  }
  const ageMs = Math.max(0, now - mtimeMs);
  if (ageMs > maxAgeMs) {
    return {
      ok: false,
      ageMs,
      reason: `health file ${file} last touched ${Math.round(ageMs / 1000)}s ago (limit ${Math.round(maxAgeMs / 1000)}s)`,
    };
  }
  return { ok: true, ageMs };
}
