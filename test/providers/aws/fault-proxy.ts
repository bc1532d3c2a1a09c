/**
 * A fault-injecting HTTP proxy in front of moto: it forwards EC2 Query API calls, but answers
 * chosen `Action=`s with EC2's own XML error body and status, with a canned body, by dropping
 * the connection after moto answered (a lost response), or by never answering (a hung region).
 * Every call is recorded with its parameters. `injectAtRate` adds faults at random (the chaos
 * run's): a share of the calls of chosen actions each get one fault of a kind allowed for it.
 */
import { randomUUID } from 'node:crypto';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface RecordedCall {
  action: string;
  params: URLSearchParams;
  /** The region the request was signed for (from its SigV4 credential scope). */
  region?: string;
}

type Rule =
  | { kind: 'error'; status: number; code: string; message: string }
  | { kind: 'body'; status: number; body: string }
  | { kind: 'rewrite'; fn: (body: string) => string }
  | { kind: 'drop' }
  | { kind: 'withhold' }
  | { kind: 'hang' }
  | { kind: 'delay'; ms: number };

/** The kinds of fault `injectAtRate` draws from. */
export type InjectedFault = 'capacity' | 'quota' | 'throttling' | '5xx' | 'lostAnswer';
export const INJECTED_FAULTS: readonly InjectedFault[] = [
  'capacity',
  'quota',
  'throttling',
  '5xx',
  'lostAnswer',
];

/** Faults at random: see {@link FaultProxy.injectAtRate}. */
export interface RateFaults {
  /** Share of the calls (0..1) of each listed action that get a fault. */
  rate: number;
  /** Action -> the kinds it may get; "*": every action not listed. */
  actions: Record<string, readonly InjectedFault[]>;
  /** Where the draws come from (a seeded generator repeats a run's draws). @default Math.random */
  random?: () => number;
  /**
   * Faults the first calls of an action get, in order, whatever the draws (so that a run has
   * each kind); they count as injected. @default {}
   */
  first?: Record<string, readonly InjectedFault[]>;
}

/** EC2's answers for each kind (codes and statuses as EC2 sends them); one is drawn per fault. */
const EC2_FAULTS: Record<
  Exclude<InjectedFault, 'lostAnswer'>,
  Array<{ status: number; code: string; message: string }>
> = {
  capacity: [
    {
      status: 500,
      code: 'InsufficientInstanceCapacity',
      message: 'We currently do not have sufficient capacity in the Availability Zone you requested.',
    },
  ],
  quota: [
    {
      status: 400,
      code: 'VcpuLimitExceeded',
      message: 'You have requested more vCPU capacity than your current vCPU limit allows.',
    },
    {
      status: 400,
      code: 'InstanceLimitExceeded',
      message: 'Your quota allows for 0 more running instance(s).',
    },
  ],
  throttling: [{ status: 503, code: 'RequestLimitExceeded', message: 'Request limit exceeded.' }],
  '5xx': [
    { status: 500, code: 'InternalError', message: 'An internal error has occurred.' },
    { status: 503, code: 'Unavailable', message: 'The server is overloaded and cannot handle the request.' },
  ],
};

interface Armed {
  rule: Rule;
  /** Only calls signed for this region. */
  region?: string;
  /** Calls left to affect; undefined: every call. */
  left?: number;
}

export interface FaultProxy {
  endpoint: string;
  /** Answers `action` with EC2's XML error `code` and HTTP `status`, `times` times (default: always). */
  fail(
    action: string,
    fault: { code: string; status: number; message?: string; times?: number; region?: string },
  ): void;
  /** Answers `action` with this body instead of moto's. */
  respond(action: string, body: string, opts?: { status?: number; times?: number }): void;
  /** Lets moto handle `action` and passes its answer through `fn` (to show states moto cannot reach). */
  rewrite(action: string, fn: (body: string) => string, times?: number): void;
  /** Lets moto handle `action`, then closes the connection without answering. */
  dropResponse(action: string, times?: number): void;
  /**
   * Lets moto handle `action` but never passes its answer on (until the proxy stops): the call
   * took effect and its caller never learns so, as when the caller dies mid-call.
   */
  withholdResponse(action: string, times?: number): void;
  /** Never answers `action` (until the proxy stops). */
  hang(action: string, times?: number): void;
  /**
   * Holds `action` for `ms` before passing it on to moto (a slow region): it takes effect then,
   * whether or not its caller still waits, as a request already sent to EC2 does.
   */
  delay(action: string, ms: number, times?: number): void;
  /**
   * From now on, `rate` of the calls of each action in `actions` (those no armed rule answers)
   * get one fault drawn from the kinds allowed for that action: EC2's error answer for capacity,
   * quota, throttling and 5xx, or a lost answer (moto acts, the connection drops). Replaces an
   * earlier setting; `clear()` ends it.
   */
  injectAtRate(faults: RateFaults): void;
  /** Stops `injectAtRate`; the counts stay. */
  stopInjecting(): void;
  /** Faults `injectAtRate` has injected, by kind and by action. */
  injected(): { byKind: Record<InjectedFault, number>; byAction: Record<string, number> };
  /** Calls seen, optionally only those of one action. */
  calls(action?: string): RecordedCall[];
  /** Forgets rules and recorded calls. */
  clear(): void;
  stop(): Promise<void>;
}

/** EC2's error document, as its Query API sends it. */
export function ec2ErrorXml(code: string, message: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors>` +
    `<RequestID>${randomUUID()}</RequestID></Response>`
  );
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const rules = new Map<string, Armed[]>();
  const seen: RecordedCall[] = [];
  const sockets = new Set<Socket>();
  let atRate: RateFaults | undefined;
  const zero = (): Record<InjectedFault, number> => ({
    capacity: 0,
    quota: 0,
    throttling: 0,
    '5xx': 0,
    lostAnswer: 0,
  });
  let byKind = zero();
  let byAction: Record<string, number> = {};
  let firsts = new Map<string, InjectedFault[]>();

  /** A fault drawn for this call, when `injectAtRate` is on and the draw says so. */
  const draw = (action: string): Rule | undefined => {
    if (!atRate) return undefined;
    const kinds = atRate.actions[action] ?? atRate.actions['*'] ?? [];
    const random = atRate.random ?? Math.random;
    const forced = firsts.get(action)?.shift();
    if (forced === undefined && (kinds.length === 0 || random() >= atRate.rate)) return undefined;
    const kind = forced ?? kinds[Math.floor(random() * kinds.length)]!;
    byKind[kind]++;
    byAction[action] = (byAction[action] ?? 0) + 1;
    if (kind === 'lostAnswer') return { kind: 'drop' };
    const answers = EC2_FAULTS[kind];
    const a = answers[Math.floor(random() * answers.length)]!;
    return { kind: 'error', status: a.status, code: a.code, message: a.message };
  };

  const take = (action: string, region?: string): Rule | undefined => {
    const list = rules.get(action) ?? [];
    const i = list.findIndex((a) => a.region === undefined || a.region === region);
    const armed = list[i];
    if (!armed) return undefined;
    if (armed.left !== undefined && --armed.left <= 0) list.splice(i, 1);
    return armed.rule;
  };
  const arm = (action: string, rule: Rule, times?: number, region?: string) => {
    const list = rules.get(action) ?? [];
    list.push({ rule, left: times, region });
    rules.set(action, list);
  };

  const forward = (
    req: IncomingMessage,
    body: Buffer,
    res: ServerResponse,
    after: 'answer' | 'drop' | 'withhold',
    rewrite?: (body: string) => string,
  ) => {
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
          if (after === 'drop') {
            req.socket.destroy();
            return;
          }
          if (after === 'withhold') return;
          const answer = Buffer.concat(chunks);
          if (rewrite) {
            const text = Buffer.from(rewrite(answer.toString('utf8')), 'utf8');
            const { 'content-length': _len, 'transfer-encoding': _te, ...headers } = upRes.headers;
            res.writeHead(upRes.statusCode ?? 502, { ...headers, 'content-length': text.length });
            res.end(text);
            return;
          }
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          res.end(answer);
        });
      },
    );
    up.on('error', (err) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`fault proxy: upstream error: ${err.message}`);
    });
    up.end(body);
  };

  const server = createServer((req, res) => {
    void readBody(req).then((body) => {
      const params = new URLSearchParams(body.toString('utf8'));
      const action =
        params.get('Action') ?? new URL(req.url ?? '/', 'http://x').searchParams.get('Action') ?? '';
      const region = /Credential=[^/]+\/\d+\/([^/]+)\//.exec(req.headers.authorization ?? '')?.[1];
      seen.push({ action, params, region });
      const rule = take(action, region) ?? draw(action);
      if (!rule) return forward(req, body, res, 'answer');
      switch (rule.kind) {
        case 'error':
          res.writeHead(rule.status, { 'content-type': 'text/xml;charset=UTF-8' });
          res.end(ec2ErrorXml(rule.code, rule.message));
          return;
        case 'body':
          res.writeHead(rule.status, { 'content-type': 'text/xml;charset=UTF-8' });
          res.end(rule.body);
          return;
        case 'rewrite':
          return forward(req, body, res, 'answer', rule.fn);
        case 'drop':
          return forward(req, body, res, 'drop');
        case 'withhold':
          return forward(req, body, res, 'withhold');
        case 'hang':
          return;
        case 'delay':
          setTimeout(() => forward(req, body, res, 'answer'), rule.ms);
          return;
      }
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (typeof addr !== 'object' || !addr) throw new Error('fault proxy: no address');

  return {
    endpoint: `http://127.0.0.1:${addr.port}`,
    fail(action, f) {
      arm(
        action,
        { kind: 'error', status: f.status, code: f.code, message: f.message ?? `injected ${f.code}` },
        f.times,
        f.region,
      );
    },
    respond(action, body, o = {}) {
      arm(action, { kind: 'body', status: o.status ?? 200, body }, o.times);
    },
    rewrite(action, fn, times) {
      arm(action, { kind: 'rewrite', fn }, times);
    },
    dropResponse(action, times = 1) {
      arm(action, { kind: 'drop' }, times);
    },
    withholdResponse(action, times = 1) {
      arm(action, { kind: 'withhold' }, times);
    },
    hang(action, times) {
      arm(action, { kind: 'hang' }, times);
    },
    delay(action, ms, times = 1) {
      arm(action, { kind: 'delay', ms }, times);
    },
    injectAtRate(faults) {
      atRate = faults;
      firsts = new Map(Object.entries(faults.first ?? {}).map(([a, kinds]) => [a, [...kinds]]));
    },
    stopInjecting() {
      atRate = undefined;
      firsts.clear();
    },
    injected() {
      return { byKind: { ...byKind }, byAction: { ...byAction } };
    },
    calls(action) {
      return action === undefined ? [...seen] : seen.filter((c) => c.action === action);
    },
    clear() {
      rules.clear();
      seen.length = 0;
      atRate = undefined;
      byKind = zero();
      byAction = {};
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
