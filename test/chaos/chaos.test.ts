/**
 * The short form of the chaos run, in CI: 20 workloads for 3 minutes (CHAOS_WORKLOADS,
 * CHAOS_SECONDS and CHAOS_SEED change it; `npm run chaos` runs a longer one).
 */
import { runChaos } from './chaos';

const workloads = Number(process.env.CHAOS_WORKLOADS ?? 20);
const seconds = Number(process.env.CHAOS_SECONDS ?? 180);
const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 100_000);

test(
  `${workloads} workloads under chaos for ${seconds}s: nothing duplicated, nothing left by the workflows for reconcile, all running`,
  async () => {
    const r = await runChaos({ workloads, durationMs: seconds * 1000, seed });
    console.log(JSON.stringify(r));
    expect(r.events['dev-server restart']).toBe(1);
    expect(r.events['migration']).toBeGreaterThanOrEqual(1);
    expect(r.events['stop mid-provision']).toBeGreaterThanOrEqual(1);
    expect(r.duplicates).toBe(0);
    // What the workflows left, before the final reconcile: a leak of the workflow itself shows
    // here, however well reconcile would clean up after it.
    expect(r.leaked).toBe(0);
    expect(r.reconcile.terminated).toBe(0);
    expect(r.leakedAfterReconcile).toBe(0);
    expect(r.desired).toBe(workloads);
  },
  (seconds + 900) * 1000,
);
