/**
 * The clouds of the chaos run: AWS on moto behind the fault proxy, GCP on the fake Compute
 * Engine behind a small proxy of this file, each VM played on this machine. Both inject faults at
 * a rate: capacity, quota, throttling, 5xx and lost answers (the call takes effect, its answer
 * never arrives), counted by kind.
 *
 * GCP faults come from the fake's own API: the proxy draws a fault for each call and the fake,
 * told of each request as it arrives (onRequest, before it answers), arms that one fault for that
 * very call (failHttp, or failOperation for the insert's operation); a lost answer is the proxy
 * forwarding the call and dropping the connection once the fake has answered.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { DescribeInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { AWS_TAGS } from '../../src/providers/aws/tags';
import { GCP_LABELS } from '../../src/providers/gcp/names';
import { playedVmProvider } from '../support/e2e';
import {
  GCE_HTTP_ERRORS,
  startFakeGce,
  type FakeGce,
  type GceRpc,
  type HttpFault,
} from '../support/gcp-server';
import { GcePlayer } from '../support/gce-player';
import { LOG_LEVEL } from '../support/harness';
import { motoEc2, motoEnv, startMoto } from '../support/moto';
import { VmPlayer } from '../support/vm-player';
import {
  INJECTED_FAULTS,
  startFaultProxy,
  type FaultProxy,
  type InjectedFault,
} from '../providers/aws/fault-proxy';

export const AWS_REGIONS = ['us-east-1', 'us-west-2'];
export const GCP_REGIONS = ['us-central1', 'us-east1'];
const AWS_IMAGE = 'ubuntu/images/hvm-ssd/ubuntu-xenial-16.04-amd64-server-*';

/** Faults injected per provider, by kind. */
export type FaultCounts = Record<'aws' | 'gcp', Record<InjectedFault, number>>;

/** A cloud instance that exists (not terminated or being deleted), with the workload it is for. */
export interface CloudInstance {
  provider: 'aws' | 'gcp';
  id: string;
  workload?: string;
  state: string;
  /** Region (EC2) or zone (GCE). */
  location: string;
}

export interface ChaosClouds {
  /** `providers` entries for the installation's config. */
  providers: Record<string, unknown>;
  /** Variables for the worker and the CLI (AWS credentials for moto). */
  env: NodeJS.ProcessEnv;
  /**
   * Starts injecting faults at `rate` (0..1) of the calls, drawing from `random`; the first
   * creates on each cloud get a capacity and a quota error whatever the draws.
   */
  inject(rate: number, random: () => number): void;
  /** Stops injecting; the counts stay. */
  stopInjecting(): void;
  faults(): FaultCounts;
  /** Every instance of the installation's owner that still exists, on both clouds. */
  instances(): Promise<CloudInstance[]>;
  /**
   * Takes an instance away behind driftless's back (EC2 terminates it; GCE deletes it without an
   * operation the client could see); false when it is not there.
   */
  takeAway(id: string): Promise<boolean>;
  /** What the players and the fake saw, for a failure message. */
  describe(): string;
  stop(): Promise<void>;
}

const zero = (): Record<InjectedFault, number> =>
  Object.fromEntries(INJECTED_FAULTS.map((k) => [k, 0])) as Record<InjectedFault, number>;

/** Which of the fake's calls a request is, from its method and path (as the fake routes it). */
function gceCallOf(method: string, path: string): GceRpc | undefined {
  const zoned =
    /^\/compute\/v1\/projects\/[^/]+\/zones\/[^/]+\/(instances|operations)(\/[^/]+)?(\/wait)?$/.exec(path);
  if (zoned) {
    const [, what, one, wait] = zoned;
    if (what === 'instances') {
      if (!one) return method === 'POST' ? 'instances.insert' : 'instances.list';
      return method === 'DELETE' ? 'instances.delete' : 'instances.get';
    }
    if (wait) return 'zoneOperations.wait';
    return one ? 'zoneOperations.get' : 'zoneOperations.list';
  }
  if (/\/aggregated\/instances$/.test(path)) return 'instances.aggregatedList';
  if (/\/zones(\/[^/]+)?$/.test(path)) return path.endsWith('/zones') ? 'zones.list' : 'zones.get';
  return undefined;
}

/** The kinds of fault a GCE call can get: capacity and quota only where an insert can meet them. */
const gceKinds = (rpc: GceRpc | undefined): readonly InjectedFault[] =>
  rpc === 'instances.insert' ? INJECTED_FAULTS : rpc ? ['throttling', '5xx', 'lostAnswer'] : [];

type Chooser = <T>(xs: readonly T[]) => T;

/** Arms, on the fake, the fault of `kind` for the call `rpc` in `zone` that is arriving now. */
function armGceFault(
  fake: FakeGce,
  rpc: GceRpc,
  zone: string | undefined,
  kind: InjectedFault,
  pick: Chooser,
) {
  const region = zone?.replace(/-[a-z]$/, '') ?? 'us-central1';
  const http = (f: HttpFault) => fake.failHttp(rpc, { ...f, zone, times: 1 });
  switch (kind) {
    case 'capacity':
      // GCE says so in the insert's answer or, more often, in its finished operation.
      if (pick([true, false])) http(GCE_HTTP_ERRORS.zoneResourcePoolExhausted);
      else fake.failOperation('instances.insert', { code: 'ZONE_RESOURCE_POOL_EXHAUSTED', zone, times: 1 });
      return;
    case 'quota':
      if (pick([true, false])) {
        http({
          ...GCE_HTTP_ERRORS.quotaExceeded,
          message: `Quota 'NVIDIA_L4_GPUS' exceeded.  Limit: 0.0 in region ${region}.`,
        });
      } else {
        fake.failOperation('instances.insert', {
          code: 'QUOTA_EXCEEDED',
          message: `Quota 'NVIDIA_L4_GPUS' exceeded.  Limit: 0.0 in region ${region}.`,
          quotaInfo: {
            metricName: 'compute.googleapis.com/nvidia_l4_gpus',
            limitName: 'NVIDIA-L4-GPUS-per-project-region',
            dimensions: { region },
            limit: 0,
          },
          zone,
          times: 1,
        });
      }
      return;
    case 'throttling':
      http(pick([GCE_HTTP_ERRORS.rateLimitExceeded, GCE_HTTP_ERRORS.tooManyRequests]));
      return;
    case '5xx': {
      // A create or delete may have taken effect before its 5xx, as GCE's can.
      const mutates = rpc === 'instances.insert' || rpc === 'instances.delete';
      const fault = pick([GCE_HTTP_ERRORS.backendError, GCE_HTTP_ERRORS.internalError]);
      http({ ...fault, afterDoing: mutates && pick([true, false]) });
      return;
    }
    case 'lostAnswer':
      return; // the proxy's part
  }
}

/** The first creates on each cloud get these, whatever the draws, so that a run has each kind. */
const FIRST_CREATE_FAULTS: readonly InjectedFault[] = ['capacity', 'quota'];

export interface GceFaultProxy {
  endpoint: string;
  inject(rate: number, random: () => number): void;
  stopInjecting(): void;
  counts(): Record<InjectedFault, number>;
  stop(): Promise<void>;
}

/** The proxy in front of the fake Compute Engine that draws each call's fault (see the top). */
export async function startGceFaultProxy(fake: FakeGce): Promise<GceFaultProxy> {
  const upstream = new URL(fake.endpoint);
  let rate = 0;
  let random: () => number = Math.random;
  const pick: Chooser = (xs) => xs[Math.floor(random() * xs.length)]!;
  const counts = zero();
  let first: InjectedFault[] = [];
  /** Faults drawn for calls on their way to the fake, by "METHOD path", oldest first. */
  const pending = new Map<string, InjectedFault[]>();
  const sockets = new Set<Socket>();

  fake.onRequest((rec) => {
    const key = `${rec.method} ${rec.path}`;
    const kind = pending.get(key)?.shift();
    if (pending.get(key)?.length === 0) pending.delete(key);
    if (kind && rec.rpc !== 'unknown') armGceFault(fake, rec.rpc, rec.zone, kind, pick);
  });

  const forward = (req: IncomingMessage, body: Buffer, res: ServerResponse, lose: boolean) => {
    const up = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
      },
      (upRes) => {
        const chunks: Buffer[] = [];
        upRes.on('data', (c: Buffer) => chunks.push(c));
        upRes.on('end', () => {
          if (lose) {
            req.socket.destroy();
            return;
          }
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          res.end(Buffer.concat(chunks));
        });
      },
    );
    up.on('error', (err) => {
      if (res.headersSent) return res.destroy();
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`gce fault proxy: upstream error: ${err.message}`);
    });
    up.end(body);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const method = req.method ?? 'GET';
      const rpc = gceCallOf(method, path);
      const kinds = gceKinds(rpc);
      let kind: InjectedFault | undefined =
        rpc === 'instances.insert' && rate > 0 ? first.shift() : undefined;
      if (kind || (kinds.length > 0 && rate > 0 && random() < rate)) {
        kind ??= pick(kinds);
        counts[kind]++;
        if (kind !== 'lostAnswer') {
          const key = `${method} ${path}`;
          pending.set(key, [...(pending.get(key) ?? []), kind]);
        }
      }
      forward(req, Buffer.concat(chunks), res, kind === 'lostAnswer');
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (typeof addr !== 'object' || !addr) throw new Error('gce fault proxy: no address');
  return {
    endpoint: `http://127.0.0.1:${addr.port}`,
    inject(r, rnd) {
      rate = r;
      random = rnd;
      first = [...FIRST_CREATE_FAULTS];
    },
    stopInjecting() {
      rate = 0;
      first = [];
      pending.clear();
    },
    counts: () => ({ ...counts }),
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Starts moto, the AWS fault proxy and the EC2 VM player, the fake Compute Engine, its fault
 * proxy and the GCE player, for the installation of `owner`. Injection is off until `inject`.
 */
export async function startChaosClouds(owner: string): Promise<ChaosClouds> {
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    const moto = await startMoto();
    stops.push(() => moto.stop());
    const proxy: FaultProxy = await startFaultProxy(moto.endpoint);
    stops.push(() => proxy.stop());
    const vms = new VmPlayer({
      endpoint: moto.endpoint,
      owner,
      regions: AWS_REGIONS,
      pollMs: 500,
      env: { DRIFTLESS_LOG_LEVEL: LOG_LEVEL },
    });
    await vms.start();
    stops.push(() => vms.stop());
    const fake = await startFakeGce();
    stops.push(() => fake.close());
    const gceProxy = await startGceFaultProxy(fake);
    stops.push(() => gceProxy.stop());
    const gces = new GcePlayer(fake, { env: { DRIFTLESS_LOG_LEVEL: LOG_LEVEL } });
    await gces.start();
    stops.push(() => gces.stop());
    const ec2 = new Map(AWS_REGIONS.map((region) => [region, motoEc2(moto.endpoint, region, 3)]));
    stops.push(async () => ec2.forEach((c) => c.destroy()));

    const instances = async (): Promise<CloudInstance[]> => {
      const out: CloudInstance[] = [];
      for (const [region, client] of ec2) {
        const res = await client.send(
          new DescribeInstancesCommand({ Filters: [{ Name: `tag:${AWS_TAGS.owner}`, Values: [owner] }] }),
        );
        for (const i of (res.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
          const state = i.State?.Name ?? 'unknown';
          if (state === 'terminated' || state === 'shutting-down') continue;
          const workload = i.Tags?.find((t) => t.Key === AWS_TAGS.workload)?.Value;
          out.push({ provider: 'aws', id: i.InstanceId!, workload, state, location: region });
        }
      }
      for (const i of fake.instances()) {
        if (i.labels?.[GCP_LABELS.owner] !== owner || i.status === 'STOPPING') continue;
        const zone = i.zone.split('/').pop()!;
        const workload = i.labels[GCP_LABELS.workload];
        out.push({ provider: 'gcp', id: i.name, workload, state: i.status, location: zone });
      }
      return out;
    };

    return {
      providers: {
        aws: {
          regions: AWS_REGIONS,
          endpoint: proxy.endpoint,
          images: Object.fromEntries(AWS_REGIONS.map((r) => [r, AWS_IMAGE])),
          ...playedVmProvider('15s'),
        },
        gcp: {
          project: fake.project,
          regions: GCP_REGIONS,
          endpoint: gceProxy.endpoint,
          credentials: 'none',
          ...playedVmProvider('5s'),
        },
      },
      env: {
        ...motoEnv(AWS_REGIONS[0]),
      },
      inject(rate, random) {
        proxy.injectAtRate({
          rate,
          random,
          actions: { RunInstances: INJECTED_FAULTS, '*': ['throttling', '5xx', 'lostAnswer'] },
          first: { RunInstances: FIRST_CREATE_FAULTS },
        });
        gceProxy.inject(rate, random);
      },
      stopInjecting() {
        proxy.stopInjecting();
        gceProxy.stopInjecting();
      },
      faults: () => ({ aws: proxy.injected().byKind, gcp: gceProxy.counts() }),
      instances,
      async takeAway(id) {
        const inst = (await instances()).find((i) => i.id === id);
        if (!inst) return false;
        if (inst.provider === 'gcp') fake.removeInstance(inst.location, id);
        else await ec2.get(inst.location)!.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
        return true;
      },
      describe: () => `EC2 VMs:\n${vms.describe()}\nGCE VMs:\n${gces.describe()}`,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
