#!/usr/bin/env node
// driftless at scale, measured on one machine: a real Temporal dev server, a real `driftless
// worker` process, local pools in scale mode (agents: shared) whose workloads are real
// processes. Prints every figure beside its goal and writes bench/results.json.
//   npm run bench              full run: 1,000 workloads (about 15 minutes on 2 cores)
//   npm run bench -- --quick   200 workloads, under 5 minutes
// Options: --workloads N, --outage N (workloads on the pool that goes down), --steady SECONDS,
// --profile DIR (a CPU profile of the worker).
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const { mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { cpus, tmpdir, totalmem } = require('node:os');
const { join, resolve } = require('node:path');
const { Client, Connection } = require('@temporalio/client');
const { NativeConnection, Runtime, Worker } = require('@temporalio/worker');
const { startDevServer } = require('../dist/client/services/dev-server');
const { WorkloadService } = require('../dist/client/services/workloads');
const { loadConfig } = require('../dist/config/config');
const { freePort } = require('../dist/common/free-port');
const { pidsWhere } = require('../dist/common/processes');
const { WorkloadSpec } = require('../dist/spec/workload-spec');
const { watcherWorkflowId, workloadWorkflowId } = require('../dist/common/names');

const root = resolve(__dirname, '..');
const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const arg = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const N = arg('workloads', quick ? 200 : 1000);
const OUTAGE = Math.min(N, arg('outage', quick ? 50 : 200));
const STEADY_S = arg('steady', quick ? 30 : 60);
const HISTORY_SLICES = 24; // one slice stands for one hour of supervision
const HEARTBEAT_TIMEOUT_S = 15; // the spec default
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${a.join(' ')}\n`);
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const TICK = 100; // clock ticks per second (Linux USER_HZ)
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK;
}
function rssMb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const results = { machine: machine(), quick, workloads: N, figures: [] };
function figure(name, value, unit, goal, ok, detail) {
  results.figures.push({ name, value, unit, goal, ok, ...(detail ? { detail } : {}) });
  log(
    `${name}: ${typeof value === 'number' ? round(value) : value} ${unit}  (goal ${goal}) ${ok === undefined ? '' : ok ? 'ok' : 'MISSED'}`,
  );
}
const round = (x) => (Math.abs(x) >= 100 ? Math.round(x) : Math.round(x * 100) / 100);

function machine() {
  return `${cpus().length} x ${cpus()[0]?.model?.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

/** Waits until `count()` reaches `n`; returns when it did. */
async function until(what, n, count, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  for (;;) {
    const c = await count();
    if (c !== last) log(`${what}: ${c}/${n}`);
    last = c;
    if (c >= n) return Date.now();
    if (Date.now() > deadline) throw new Error(`${what}: only ${c} of ${n} after ${timeoutMs / 1000} s`);
    await sleep(500);
  }
}

async function count(client, query) {
  const r = await client.workflowService.countWorkflowExecutions({ namespace: 'default', query });
  return Number(r.count);
}

/** Baseline: N one-activity no-op workflows on a worker with the SDK's default options. */
async function baseline(address, client) {
  const connection = await NativeConnection.connect({ address });
  const taskQueue = 'bench-baseline';
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowsPath: require.resolve('./baseline-workflow'),
    activities: { noop: async () => undefined },
  });
  const running = worker.run();
  // A warm-up workflow: the first task of a fresh worker pays for loading the bundle.
  await client.workflow.execute('baselineWorkflow', { taskQueue, workflowId: 'bench-baseline-warmup' });
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: N }, (_, i) =>
      client.workflow.execute('baselineWorkflow', { taskQueue, workflowId: `bench-baseline-${i}` }),
    ),
  );
  const seconds = (Date.now() - t0) / 1000;
  worker.shutdown();
  await running;
  await connection.close();
  const rate = N / seconds;
  figure(
    'baseline: no-op workflows per second',
    rate,
    'wf/s',
    'reference',
    undefined,
    `${N} workflows in ${round(seconds)} s`,
  );
  return rate;
}

function spec(name, regions) {
  return WorkloadSpec.parse({
    name,
    kind: 'service',
    command: ['sleep', '1000000'],
    resources: { gpu: { type: 'A100', count: 1 } },
    placement: { regions },
    recovery: { maxRestarts: 3, cooldown: '5s' },
  });
}

/** The `running` event of a workload's current instance (ms since epoch), from its status. */
async function runningAt(workloads, name, after = 0) {
  const v = await workloads.status(name);
  const ev = (v.status?.timeline ?? []).filter(
    (e) => e.type === 'running' && e.instanceId === v.instanceId && Date.parse(e.at) >= after,
  );
  // The current placement's start when the timeline no longer holds its event (it keeps 50).
  const at = ev.length ? Date.parse(ev[ev.length - 1].at) : Date.parse(v.status?.current?.since ?? '');
  return { at: Number.isNaN(at) ? undefined : at, view: v };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'driftless-bench-'));
  const port = await freePort();
  log(`dev server on 127.0.0.1:${port}; ${N} workloads; state in ${dir}`);
  const server = await startDevServer({
    port,
    headless: true,
    logFile: join(dir, 'temporal.log'),
    // The dev server's per-namespace rate limit (a few hundred requests a second) is a setting
    // of that server, not of driftless: raised for the baseline and driftless alike.
    dynamicConfig: {
      'frontend.namespaceRPS': 100000,
      'frontend.rps': 100000,
      'frontend.namespaceCount': 100000,
    },
  });
  const configPath = join(dir, 'driftless.config.yaml');
  const pool = (name, gpus, price) =>
    `      - { name: ${name}, gpus: { type: A100, count: ${gpus} }, pricePerGpuHour: ${price}, agents: shared }\n`;
  writeFileSync(
    configPath,
    'owner: bench\nreconcile: { enabled: false }\nproviders:\n  local:\n    pools:\n' +
      pool('bench-out', OUTAGE + 10, 1) +
      pool('bench-main', N - OUTAGE + 10, 2) +
      pool('bench-spare', OUTAGE + 10, 3),
  );
  const env = {
    ...process.env,
    DRIFTLESS_CONFIG: configPath,
    DRIFTLESS_STATE_DIR: join(dir, 'state'),
    TEMPORAL_ADDRESS: server.address,
    DRIFTLESS_TASK_QUEUE: 'bench',
    DRIFTLESS_LOG_LEVEL: 'warn',
  };
  const config = await loadConfig({}, env);
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  let worker;
  const cleanups = [];
  try {
    const base = await baseline(server.address, client);

    // --profile DIR: a CPU profile of the worker (written when it exits) for `node --cpu-prof`.
    const profile = argv.includes('--profile') ? resolve(argv[argv.indexOf('--profile') + 1]) : undefined;
    const nodeFlags = profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
    worker = spawn(process.execPath, [...nodeFlags, join(root, 'bin/driftless.js'), 'worker'], {
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    cleanups.push(() => worker.kill('SIGTERM'));
    await sleep(3000);
    const workloads = new WorkloadService(client, config);

    // Launch: N workloads applied at once, until every one is RUNNING.
    const names = Array.from({ length: N }, (_, i) => `w${String(i).padStart(4, '0')}`);
    const outageNames = new Set(names.slice(0, OUTAGE));
    const serverPid = server.process.pid;
    const cpu0 = { server: cpuSeconds(serverPid), worker: cpuSeconds(worker.pid), bench: process.cpuUsage() };
    const t0 = Date.now();
    await Promise.all(
      names.map((n) =>
        workloads.apply(spec(n, outageNames.has(n) ? ['bench-out', 'bench-spare'] : ['bench-main'])),
      ),
    );
    log(`applied ${N} in ${(Date.now() - t0) / 1000} s`);
    const running = () => count(client, `DriftlessPhase = "RUNNING" AND ExecutionStatus = "Running"`);
    await until('running', N, running, 30 * 60_000);
    const hostPids = pidsWhere((p) => p.argv.includes('--agent-host'));
    const launchCpu = {
      server: cpuSeconds(serverPid) - cpu0.server,
      worker: cpuSeconds(worker.pid) - cpu0.worker,
      agentHosts: hostPids.reduce((a, p) => a + cpuSeconds(p), 0),
      bench: (() => {
        const u = process.cpuUsage(cpu0.bench);
        return (u.user + u.system) / 1e6;
      })(),
    };
    const launchWall = (Date.now() - t0) / 1000;
    const launchTimes = [];
    /** Why a workload needed more than one try to start, by the timeline's words. */
    const retried = new Map();
    for (const n of names) {
      const { at, view } = await runningAt(workloads, n);
      launchTimes.push(at);
      for (const e of view.status?.timeline ?? []) {
        if (!['lost', 'provision-failed', 'exited', 'unhealthy', 'restarting'].includes(e.type)) continue;
        const why = `${e.type}: ${e.message.replace(/\b(w\d{4}|l[0-9a-f]{15})\b/g, '*')}`.slice(0, 140);
        retried.set(why, (retried.get(why) ?? 0) + 1);
      }
    }
    const launchS = (Math.max(...launchTimes.filter((t) => t !== undefined)) - t0) / 1000;
    const rate = N / launchS;
    figure(
      'launch: workloads RUNNING per second',
      rate,
      'wl/s',
      '>= 0.5 x baseline',
      undefined,
      `${N} in ${round(launchS)} s`,
    );
    figure('launch: ratio to the baseline', rate / base, 'x', '>= 0.5', rate / base >= 0.5);
    const latency = launchTimes.map((t) => (t - t0) / 1000);
    figure(
      'launch: time to RUNNING per workload (p50 / p99)',
      `${round(pct(latency, 50))} / ${round(pct(latency, 99))}`,
      's',
      'info',
      undefined,
    );
    figure(
      'launch: setbacks on the way (events)',
      [...retried.values()].reduce((a, b) => a + b, 0),
      '',
      'info',
      undefined,
      [...retried].map(([k, v]) => `${v} x ${k}`).join('; ') || 'none',
    );
    const cpuText = Object.entries(launchCpu)
      .map(([k, v]) => `${k} ${round(v)}`)
      .join(', ');
    figure(
      'launch: CPU seconds by process',
      cpuText,
      '',
      'info',
      undefined,
      `over ${round(launchWall)} s on ${cpus().length} cores`,
    );

    // Steady state: N running workloads on one worker.
    const wpid = worker.pid;
    const watcher = client.workflow.getHandle(watcherWorkflowId('bench'));
    await sleep(5000);
    const c0 = cpuSeconds(wpid);
    const sc0 = cpuSeconds(serverPid);
    const s0 = Date.now();
    await sleep(STEADY_S * 1000);
    const cpu = (cpuSeconds(wpid) - c0) / ((Date.now() - s0) / 1000);
    const serverCpu = (cpuSeconds(serverPid) - sc0) / ((Date.now() - s0) / 1000);
    const s1 = Date.now();
    const rss = rssMb(wpid);
    const hosts = pidsWhere((p) => p.argv.includes('--agent-host'));
    const hostRss = hosts.reduce((a, p) => a + rssMb(p), 0);
    figure(`steady: worker RSS with ${N} running`, rss, 'MiB', '<= 1024', rss <= 1024);
    figure(`steady: worker CPU with ${N} running`, cpu * 100, '% of a core', '<= 10', cpu <= 0.1);
    figure('steady: agent hosts RSS (scale mode, all pools)', hostRss, 'MiB', 'info', undefined);
    figure(
      'steady: Temporal dev server CPU (agent heartbeats, polls)',
      serverCpu * 100,
      '% of a core',
      'info',
      undefined,
    );
    let rounds = 0;
    for await (const ev of (await watcher.fetchHistory()).events ?? []) {
      const t = ev.eventTime ? Number(ev.eventTime.seconds) * 1000 : 0;
      if (
        t >= s0 &&
        t <= s1 &&
        ev.activityTaskScheduledEventAttributes?.activityType?.name === 'describeBatch'
      )
        rounds++;
    }
    const perMin = (rounds * 60_000) / (s1 - s0);
    const interval = 10;
    figure(
      'steady: batched describe rounds per minute',
      perMin,
      '/min',
      `<= ${60 / interval} (one per interval, each one call per provider and region, whatever N)`,
      // One round per interval, give or take the window's edges.
      rounds <= Math.ceil((s1 - s0) / 1000 / interval) + 1,
      `${rounds} describeBatch activities in ${round((s1 - s0) / 1000)} s for ${N} instances in 3 pools`,
    );
    const sample = names.filter((_, i) => i % Math.ceil(N / 20) === 0);
    const lengths = [];
    for (const n of sample)
      lengths.push(Number((await client.workflow.getHandle(workloadWorkflowId(n)).describe()).historyLength));
    figure(
      'steady: history events per workflow run',
      pct(lengths, 50),
      'events (median)',
      '< 2000',
      Math.max(...lengths) < 2000,
      `max ${Math.max(...lengths)} over ${sample.length} workloads`,
    );

    // Mass outage: the pool holding OUTAGE workloads goes down.
    // The workloads the outage hits: those running on its pool now (a setback at launch may have
    // put one of the intended ones on the spare pool).
    const before = new Map();
    for (const n of [...outageNames]) {
      const v = await workloads.status(n);
      if (v.pool === 'bench-out') before.set(n, v.instanceId);
      else outageNames.delete(n);
    }
    const hit = outageNames.size;
    const down = spawnSync(process.execPath, [join(root, 'bin/driftless.js'), 'pool', 'down', 'bench-out'], {
      env,
      encoding: 'utf8',
    });
    if (down.status !== 0) throw new Error(`pool down failed: ${down.stderr}`);
    // The outage begins when the pool is marked down (the marker holds the time), not when the
    // CLI that marks it has started.
    const downAt = Date.parse(readFileSync(join(dir, 'state/local/pools/bench-out.down'), 'utf8'));
    const moved = async () => {
      let c = 0;
      for (const n of outageNames) {
        const v = await workloads.status(n).catch(() => undefined);
        if (v?.phase === 'RUNNING' && v.instanceId !== before.get(n)) c++;
      }
      return c;
    };
    await until('re-placed after the outage', hit, moved, 10 * 60_000);
    const outageS = [];
    const detectS = [];
    /** Seconds after the outage at which each step of the recovery was first recorded, per workload. */
    const steps = { lost: [], terminated: [], placed: [], provisioned: [], running: [] };
    for (const n of outageNames) {
      const { at, view } = await runningAt(workloads, n, downAt);
      outageS.push((at - downAt) / 1000);
      for (const [type, list] of Object.entries(steps)) {
        const ev = (view.status?.timeline ?? []).find((e) => e.type === type && Date.parse(e.at) >= downAt);
        if (ev) list.push((Date.parse(ev.at) - downAt) / 1000);
      }
      const lost = (view.status?.timeline ?? []).find(
        (e) => e.type === 'lost' && e.instanceId === before.get(n),
      );
      if (lost) detectS.push((Date.parse(lost.at) - downAt) / 1000);
    }
    figure(
      'outage: loss seen (p50 / max)',
      `${round(pct(detectS, 50))} / ${round(Math.max(...detectS))}`,
      's',
      'info',
      undefined,
      `${detectS.length} losses recorded`,
    );
    figure(
      'outage: steps, median s after the pool went down',
      Object.entries(steps)
        .map(([k, v]) => `${k} ${v.length ? round(pct(v, 50)) : '-'}`)
        .join(', '),
      '',
      'info',
      undefined,
    );
    const goal = HEARTBEAT_TIMEOUT_S + 2;
    figure(
      `outage: ${hit} workloads RUNNING elsewhere, p50`,
      pct(outageS, 50),
      's',
      `<= ${goal}`,
      pct(outageS, 50) <= goal,
    );
    figure(
      `outage: p99`,
      pct(outageS, 99),
      's',
      `<= ${goal} (heartbeatTimeout + 2 s)`,
      pct(outageS, 99) <= goal,
    );
    figure(`outage: max`, Math.max(...outageS), 's', `<= ${goal}`, Math.max(...outageS) <= goal);

    // Stop them all (the history figure wants a quiet machine).
    await Promise.all(names.map((n) => workloads.stop(n, 'bench done').catch(() => undefined)));
    await until(
      'stopped',
      N,
      () => count(client, `WorkflowType = "workloadWorkflow" AND ExecutionStatus != "Running"`),
      10 * 60_000,
    );

    // History: a service supervised for 24 slices of one second (each standing for an hour).
    const hs = spec('history', ['bench-main']);
    const h = await client.workflow.start('workloadWorkflow', {
      taskQueue: 'bench',
      workflowId: workloadWorkflowId('history'),
      args: [{ spec: hs, specHash: 'bench', searchAttributes: true, superviseSliceMs: 1000 }],
    });
    const slices = async () => {
      const hist = await client.workflow.getHandle(h.workflowId, h.firstExecutionRunId).fetchHistory();
      const ev = hist.events ?? [];
      const supervise = ev.filter(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'superviseWorkload',
      );
      return { slices: Math.max(0, supervise.length - 1), events: ev.length };
    };
    await until('history slices', HISTORY_SLICES, async () => (await slices()).slices, 5 * 60_000);
    const { events } = await slices();
    const runs = [events];
    await h.cancel().catch(() => undefined);
    figure(
      'history: events per run over 24 h of supervision',
      Math.max(...runs),
      'events',
      '< 2000',
      Math.max(...runs) < 2000,
      `${HISTORY_SLICES} hourly slices played as 1 s slices`,
    );
  } finally {
    for (const c of cleanups.reverse()) await c();
    if (worker) await new Promise((r) => (worker.exitCode !== null ? r() : worker.once('exit', r)));
    await connection.close();
    await server.stop();
    // Whatever scale mode left (hosts, workloads) goes with the bench's state directory.
    for (const pid of pidsWhere((p) => (p.cwd ?? '').startsWith(dir))) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    rmSync(dir, { recursive: true, force: true });
  }

  // Placement: the 100,000-offer figure of bench:placement.
  const pl = spawnSync(process.execPath, [join(root, 'bench/placement.js'), '--runs', quick ? '5' : '30'], {
    encoding: 'utf8',
  });
  const m = /median\s+([\d.]+)\s*ms/i.exec(pl.stdout);
  figure('placement: rank 100,000 offers (median)', m ? Number(m[1]) : NaN, 'ms', 'reference', undefined);

  // The latest run's figures ("quick" says which kind); the README quotes a full run's.
  writeFileSync(join(__dirname, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  printTable();
}

function printTable() {
  const rows = results.figures.map((f) => [
    f.name,
    `${typeof f.value === 'number' ? round(f.value) : f.value} ${f.unit}`,
    f.goal,
    f.ok === undefined ? '' : f.ok ? 'ok' : 'MISSED',
  ]);
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length), 6));
  const line = (r) => r.map((c, i) => (i < 3 ? c.padEnd(w[i]) : c)).join('  ');
  console.log(`driftless bench (${quick ? 'quick' : 'full'}): ${results.machine}`);
  console.log(line(['figure', 'value', 'goal', '']));
  for (const r of rows) console.log(line(r));
  for (const f of results.figures) if (f.detail) console.log(`  ${f.name}: ${f.detail}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`bench failed: ${err.stack ?? err}`);
    process.exit(1);
  },
);
