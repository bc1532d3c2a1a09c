import type { Logger } from 'pino';
import { parseDuration } from '../spec/units';

/** How long the agent waits without reaching Temporal before it stops the workload. */
export const DEFAULT_DEAD_MAN_TIMEOUT_MS = 10 * 60_000;

export interface DeadMansSwitchOptions {
  /** One reachability check of the control plane; rejects when it does not answer in time. */
  probe: (deadline: Date) => Promise<void>;
  /** Silence longer than this fires the switch. */
  timeoutMs: number;
  /** Time between probes (also each probe's deadline). @default timeoutMs / 6, between 250 ms and 15 s */
  intervalMs?: number;
  /** Called once, when the switch fires. */
  onExpire: (silentForMs: number) => Promise<void> | void;
  logger: Logger;
}

/**
 * The agent's dead-man's switch: when the control plane has not answered for `timeoutMs`, the
 * workload is stopped (and, on a cloud instance, the machine shut down) instead of running on,
 * unwatched and billed, until someone notices. One failed probe only starts the clock.
 */
export class DeadMansSwitch {
  private timer: NodeJS.Timeout | undefined;
  private lastContact = Date.now();
  private failing = false;
  private fired = false;
  private stopped = false;
  private readonly intervalMs: number;

  constructor(private readonly opts: DeadMansSwitchOptions) {
    this.intervalMs = opts.intervalMs ?? Math.min(15_000, Math.max(250, Math.floor(opts.timeoutMs / 6)));
  }

  start(): void {
    this.lastContact = Date.now();
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Whether the switch has fired. */
  get expired(): boolean {
    return this.fired;
  }

  /** One probe, failed by us at its deadline even if the client keeps waiting (reconnecting). */
  private async probeWithin(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    });
    try {
      await Promise.race([this.opts.probe(new Date(Date.now() + ms)), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private schedule(delayMs = this.intervalMs): void {
    if (this.stopped || this.fired) return;
    this.timer = setTimeout(() => void this.tick(), delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    const { logger, timeoutMs } = this.opts;
    const began = Date.now();
    try {
      await this.probeWithin(this.intervalMs);
      if (this.failing) logger.info('control plane reachable again');
      this.failing = false;
      this.lastContact = Date.now();
    } catch (err) {
      const silentMs = Date.now() - this.lastContact;
      if (!this.failing) {
        logger.warn(
          { err: (err as Error).message, timeoutMs },
          'control plane unreachable; the workload stops if this lasts',
        );
      }
      this.failing = true;
      if (silentMs >= timeoutMs && !this.stopped) {
        this.fired = true;
        logger.error(
          { silentMs, timeoutMs },
          'control plane unreachable for too long: dead-man switch fired',
        );
        await this.opts.onExpire(silentMs);
        return;
      }
    }
    // Probes start every interval, however long the last one took to fail.
    this.schedule(Math.max(0, this.intervalMs - (Date.now() - began)));
  }
}

/**
 * DRIFTLESS_DEAD_MAN_TIMEOUT: a duration ("90s", "10m"); "0" or "off" turns the switch off.
 * Returns undefined when off.
 */
export function deadManTimeoutFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env.DRIFTLESS_DEAD_MAN_TIMEOUT?.trim();
  if (raw === undefined || raw === '') return DEFAULT_DEAD_MAN_TIMEOUT_MS;
  if (raw === 'off' || raw === '0') return undefined;
  const ms = parseDuration(raw);
  if (ms === undefined || ms <= 0) {
    throw new Error(
      `DRIFTLESS_DEAD_MAN_TIMEOUT: expected a duration such as "10m", or "off", got ${JSON.stringify(raw)}`,
    );
  }
  return ms;
}

/** What {@link temporalDeadMan} probes: a Temporal connection (getSystemInfo within the deadline). */
interface ProbedConnection {
  withDeadline<T>(deadline: Date, fn: () => Promise<T>): Promise<T>;
  workflowService: { getSystemInfo(req: object): Promise<unknown> };
}

/**
 * The switch of an agent (or an agent host) on its Temporal connection; none when the timeout
 * is off. Started here.
 */
export function temporalDeadMan(
  connection: ProbedConnection,
  timeoutMs: number | undefined,
  logger: Logger,
  onExpire: DeadMansSwitchOptions['onExpire'],
): DeadMansSwitch | undefined {
  if (timeoutMs === undefined) return undefined;
  const sw = new DeadMansSwitch({
    timeoutMs,
    logger,
    probe: (deadline) =>
      connection.withDeadline(deadline, async () => {
        await connection.workflowService.getSystemInfo({});
      }),
    onExpire,
  });
  sw.start();
  return sw;
}
