#!/usr/bin/env node
// Placement benchmark: filter and rank 100,000 offers against a realistic spec.
//   npm run bench:placement [-- --offers 100000 --runs 30]
// Prints the median, min and max time of rankOffers and the number of offers.
'use strict';
const { rankOffers } = require('../dist/placement/rank');
const { loadCatalog } = require('../dist/catalog/catalog');
const { WorkloadSpec } = require('../dist/spec/workload-spec');

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg('offers', 100_000);
const RUNS = arg('runs', 30);

async function main() {
  // The bundled catalogs, replicated across synthetic regions (prices jittered) up to N offers.
  const { offers: base } = await loadCatalog();
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const offers = [];
  for (let i = 0; offers.length < N; i++) {
    const o = base[i % base.length];
    const copy = Math.floor(i / base.length);
    offers.push({
      ...o,
      region: copy ? `${o.region}-x${copy}` : o.region,
      zone: copy ? `${o.zone}-x${copy}` : o.zone,
      pricePerHour: Math.round(o.pricePerHour * (0.8 + rand() * 0.4) * 10000) / 10000,
    });
  }
  const spec = WorkloadSpec.parse({
    name: 'bench',
    kind: 'job',
    command: ['true'],
    resources: {
      gpu: { type: ['H100', 'A100-80GB', 'A100'], count: '4..8', memory: '40GB..' },
      cpu: '32..',
      memory: '256GB..',
    },
    placement: {
      regions: { allow: ['us-*', 'europe-*'], deny: ['us-west1*'] },
      spot: 'allow',
      maxPricePerHour: 60,
    },
  });
  const blocks = [
    {
      provider: 'aws',
      region: 'us-east-1',
      zone: 'use1-az1',
      until: Date.now() + 60_000,
      reason: 'CapacityError',
    },
  ];
  const times = [];
  let result;
  for (let r = 0; r < RUNS + 3; r++) {
    const t0 = process.hrtime.bigint();
    result = rankOffers(spec, offers, blocks, Date.now());
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r >= 3) times.push(ms); // the first runs warm the JIT up
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  console.log(
    `offers: ${offers.length}, fit: ${result.ranked.length}, passed over: ${result.rejected.length}`,
  );
  console.log(
    `rankOffers: median ${median.toFixed(1)} ms, min ${times[0].toFixed(1)} ms, max ${times[times.length - 1].toFixed(1)} ms over ${RUNS} runs (goal: <= 50 ms)`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
