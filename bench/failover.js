#!/usr/bin/env node
// Failover benchmark: real dev server, real worker process, real agents on two local pools.
// Measures, over N rounds, the time from (a) SIGKILL of the agent and (b) `pool down` to the
// workload being RUNNING on another instance. Prints each figure and the median.
//   npm run bench:failover [-- --rounds 5]
'use strict';
const { spawn } = require('node:child_process');
const { mkdtempSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');
const { startDevServer } = require('../dist/client/services/dev-server');
const { freePort } = require('../dist/common/free-port');
const { pidsWhere } = require('../dist/common/processes');

const root = resolve(__dirname, '..');
const cli = join(root, 'bin/driftless.js');
const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 5;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function run(args, env) {
  return new Promise((res) => {
    const c = spawn(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('exit', (code) => res({ code, out }));
  });
}

/** Live agents of a workload (argv `--workload NAME`). */
const agents = (name) => pidsWhere((p) => p.argv.includes('--workload') && p.argv.includes(name));

async function status(name, env) {
  const r = await run(['status', name, '--json'], env);
  return r.code === 0 ? JSON.parse(r.out) : undefined;
}

async function runningElsewhere(name, oldId, env) {
  for (;;) {
    const s = await status(name, env);
    if (s && s.phase === 'RUNNING' && s.instanceId !== oldId) return s;
    await sleep(50);
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'driftless-bench-'));
  const server = await startDevServer({ port: await freePort(), headless: true });
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    'providers:\n  local:\n    pools:\n' +
      ['a', 'b', 'c']
        .map(
          (p, i) =>
            `      - { name: pool-${p}, gpus: { type: A100, count: 8 }, pricePerGpuHour: ${i + 1} }\n`,
        )
        .join(''),
  );
  const env = {
    ...process.env,
    DRIFTLESS_CONFIG: config,
    DRIFTLESS_STATE_DIR: join(dir, 'state'),
    TEMPORAL_ADDRESS: server.address,
    DRIFTLESS_LOG_LEVEL: 'warn',
  };
  const worker = spawn(process.execPath, [cli, 'worker'], { env, stdio: 'ignore' });
  const kills = [];
  const outages = [];
  try {
    await sleep(3000);
    for (let i = 0; i < rounds; i++) {
      for (const mode of ['kill', 'outage']) {
        const name = `bench-${mode}-${i}`;
        const spec = join(dir, `${name}.yaml`);
        writeFileSync(
          spec,
          `name: ${name}\nkind: service\ncommand: [node, -e, "setInterval(() => {}, 1000)"]\n` +
            'resources: { gpu: { type: A100, count: 1 } }\nhealth: { heartbeatTimeout: 5s }\n',
        );
        const applied = await run(['apply', spec, '--wait', '--json'], env);
        const before = JSON.parse(applied.out);
        const t0 = Date.now();
        if (mode === 'kill') process.kill(agents(name)[0], 'SIGKILL');
        else await run(['pool', 'down', before.pool], env);
        const after = await runningElsewhere(name, before.instanceId, env);
        const ms = Date.now() - t0;
        (mode === 'kill' ? kills : outages).push(ms);
        console.log(
          `round ${i + 1} ${mode === 'kill' ? 'agent SIGKILL' : 'pool down'}: ${before.pool} -> ${after.pool} in ${ms} ms`,
        );
        if (mode === 'outage') await run(['pool', 'up', before.pool], env);
        await run(['stop', name], env);
      }
    }
    console.log(
      `agent SIGKILL -> RUNNING elsewhere: median ${median(kills)} ms, min ${Math.min(...kills)}, max ${Math.max(...kills)} (n=${kills.length}, heartbeatTimeout 5s)`,
    );
    console.log(
      `pool down -> RUNNING elsewhere: median ${median(outages)} ms, min ${Math.min(...outages)}, max ${Math.max(...outages)} (n=${outages.length})`,
    );
  } finally {
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('exit', r));
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
