/**
 * Spot and maintenance notices: the agent polls the instance metadata service and reports a
 * notice as soon as one appears, so the workflow starts the replacement while the machine is
 * still there. AWS (IMDSv2): `spot/instance-action` (an interruption in about two minutes) and
 * `events/recommendations/rebalance`; GCE: `instance/preempted` and
 * `instance/maintenance-event`. The base URL is configurable (DRIFTLESS_METADATA_URL), which is
 * how the test players serve notices.
 */
import type { Logger } from 'pino';

export type NoticeKind = 'spot-interruption' | 'rebalance' | 'preempted' | 'maintenance';

export interface Notice {
  kind: NoticeKind;
  /** Words for the timeline, e.g. "spot interruption: terminate at 2026-12-02T03:00:00Z". */
  detail: string;
  /** When the provider will act, when it says. */
  at?: string;
}

export type NoticeSource = 'aws' | 'gcp';

const TIMEOUT_MS = 2000;

async function get(
  url: string,
  headers: Record<string, string>,
  method = 'GET',
): Promise<Response | undefined> {
  try {
    return await fetch(url, { method, headers, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch {
    return undefined; // no metadata service (yet): nothing to report
  }
}

/** One look at AWS's metadata (IMDSv2: a session token first). */
async function awsNotice(base: string): Promise<Notice | undefined> {
  const tokenRes = await get(
    `${base}/latest/api/token`,
    { 'X-aws-ec2-metadata-token-ttl-seconds': '60' },
    'PUT',
  );
  const token = tokenRes?.ok ? await tokenRes.text() : undefined;
  const headers: Record<string, string> = token ? { 'X-aws-ec2-metadata-token': token } : {};
  const action = await get(`${base}/latest/meta-data/spot/instance-action`, headers);
  if (action?.ok) {
    const body = (await action.json().catch(() => ({}))) as { action?: string; time?: string };
    return {
      kind: 'spot-interruption',
      detail: `spot interruption: ${body.action ?? 'terminate'} at ${body.time ?? 'soon'}`,
      at: body.time,
    };
  }
  const rebalance = await get(`${base}/latest/meta-data/events/recommendations/rebalance`, headers);
  if (rebalance?.ok) {
    const body = (await rebalance.json().catch(() => ({}))) as { noticeTime?: string };
    return { kind: 'rebalance', detail: `rebalance recommendation (${body.noticeTime ?? 'now'})` };
  }
  return undefined;
}

/** One look at Compute Engine's metadata. */
async function gcpNotice(base: string): Promise<Notice | undefined> {
  const headers = { 'Metadata-Flavor': 'Google' };
  const preempted = await get(`${base}/computeMetadata/v1/instance/preempted`, headers);
  if (preempted?.ok && (await preempted.text()).trim().toUpperCase() === 'TRUE') {
    return { kind: 'preempted', detail: 'preemption notice' };
  }
  const maintenance = await get(`${base}/computeMetadata/v1/instance/maintenance-event`, headers);
  const event = maintenance?.ok ? (await maintenance.text()).trim() : 'NONE';
  if (event !== '' && event !== 'NONE') return { kind: 'maintenance', detail: `maintenance event ${event}` };
  return undefined;
}

/** Polls the metadata service until a notice appears; `onNotice` is called once. */
export class NoticeWatcher {
  private timer?: NodeJS.Timeout;
  private seen?: Notice;

  constructor(
    private readonly o: {
      source: NoticeSource;
      baseUrl: string;
      intervalMs: number;
      logger: Logger;
      onNotice: (n: Notice) => void;
    },
  ) {}

  /** The source and URL from the environment the boot script set; undefined off the clouds. */
  static settingsFromEnv(env: NodeJS.ProcessEnv): { source: NoticeSource; baseUrl: string } | undefined {
    const source = env.DRIFTLESS_NOTICES;
    if (source !== 'aws' && source !== 'gcp') return undefined;
    const fallback = source === 'aws' ? 'http://169.254.169.254' : 'http://metadata.google.internal';
    return { source, baseUrl: (env.DRIFTLESS_METADATA_URL?.trim() || fallback).replace(/\/+$/, '') };
  }

  start(): void {
    const tick = async () => {
      if (this.seen) return;
      const n = await (this.o.source === 'aws' ? awsNotice(this.o.baseUrl) : gcpNotice(this.o.baseUrl));
      if (n && !this.seen) {
        this.seen = n;
        this.o.logger.warn({ notice: n }, 'notice from the metadata service');
        this.o.onNotice(n);
        return;
      }
      this.timer = setTimeout(() => void tick(), this.o.intervalMs);
      this.timer.unref();
    };
    void tick();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}
