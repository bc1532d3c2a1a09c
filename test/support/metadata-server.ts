/**
 * The instance metadata service of played VMs: one HTTP server on loopback answering for every
 * played instance under `/i/<instanceId>` (each agent is told its own base URL through
 * DRIFTLESS_METADATA_URL). It speaks the paths the agent reads: AWS IMDSv2 (a token, then
 * `spot/instance-action` and `events/recommendations/rebalance`, 404 when there is none) and
 * GCE (`instance/preempted`, `instance/maintenance-event`). A test gives notice with `notice()`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type PlayedNotice = 'spot-interruption' | 'rebalance' | 'preempted' | 'maintenance';

export class MetadataServer {
  private server?: Server;
  private readonly notices = new Map<string, { kind: PlayedNotice; at: string }>();
  /** Requests served, by instance: shows that an agent polls. */
  readonly requests = new Map<string, number>();

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const m = /^\/i\/([^/]+)(\/.*)$/.exec(req.url ?? '');
      if (!m) return void res.writeHead(404).end();
      const [, id, path] = m as unknown as [string, string, string];
      this.requests.set(id, (this.requests.get(id) ?? 0) + 1);
      const n = this.notices.get(id);
      if (req.method === 'PUT' && path === '/latest/api/token') return void res.end('played-token');
      if (path === '/latest/meta-data/spot/instance-action') {
        if (n?.kind !== 'spot-interruption') return void res.writeHead(404).end();
        return void res.end(JSON.stringify({ action: 'terminate', time: n.at }));
      }
      if (path === '/latest/meta-data/events/recommendations/rebalance') {
        if (n?.kind !== 'rebalance') return void res.writeHead(404).end();
        return void res.end(JSON.stringify({ noticeTime: n.at }));
      }
      if (path === '/computeMetadata/v1/instance/preempted') {
        return void res.end(n?.kind === 'preempted' ? 'TRUE' : 'FALSE');
      }
      if (path === '/computeMetadata/v1/instance/maintenance-event') {
        return void res.end(n?.kind === 'maintenance' ? 'TERMINATE_ON_HOST_MAINTENANCE' : 'NONE');
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
  }

  /** The base URL an instance's agent is given. */
  urlFor(instanceId: string): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/i/${instanceId}`;
  }

  /** From now on the instance's metadata gives this notice (the provider acts in `inMs`). */
  notice(instanceId: string, kind: PlayedNotice, inMs = 120_000): void {
    this.notices.set(instanceId, { kind, at: new Date(Date.now() + inMs).toISOString() });
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
