/**
 * The short form of the chaos run, in CI: 20 workloads for 3 minutes, a fifth of them on AWS and
 * a fifth on GCP, with faults injected into 30% of the cloud API calls (CHAOS_WORKLOADS,
 * CHAOS_SECONDS, CHAOS_SEED and CHAOS_FAULT_RATE change it; `npm run chaos` runs a longer one).
 */
import { runChaos } from './chaos';
import { INJECTED_FAULTS } from '../providers/aws/fault-proxy';

const workloads = Number(process.env.CHAOS_WORKLOADS ?? 20);
const seconds = Number(process.env.CHAOS_SECONDS ?? 180);
const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 100_000);
const faultRate = Number(process.env.CHAOS_FAULT_RATE ?? 0.3);

test(
  `${workloads} workloads under chaos and ${faultRate * 100}% cloud API faults for ${seconds}s: nothing duplicated, nothing left by the workflows for reconcile, all running`,
  async () => {
    const r = await runChaos({ workloads, durationMs: seconds * 1000, seed, faultRate });
    console.log(JSON.stringify(r));
    expect(r.events['dev-server restart']).toBe(1);
    expect(r.events['migration']).toBeGreaterThanOrEqual(1);
    expect(r.events['stop mid-provision']).toBeGreaterThanOrEqual(1);
    // The clouds were in it: workloads on each, an instance taken away, and every kind of fault
    // injected on each cloud.
    expect(r.cloudWorkloads.aws).toBeGreaterThanOrEqual(1);
    expect(r.cloudWorkloads.gcp).toBeGreaterThanOrEqual(1);
    expect(r.events['cloud instance lost']).toBeGreaterThanOrEqual(1);
    const notInjected = (['aws', 'gcp'] as const).flatMap((cloud) =>
      INJECTED_FAULTS.filter((kind) => !(r.providerFaults[cloud][kind] > 0)).map(
        (kind) => `${cloud} ${kind}`,
      ),
    );
    expect(notInjected).toEqual([]);
    expect(r.duplicates).toBe(0);
    // What the workflows left, before the final reconcile: a leak of the workflow itself shows
    // here, however well reconcile would clean up after it.
    expect(r.leaked).toBe(0);
    expect(r.reconcile.terminated).toBe(0);
    expect(r.leakedAfterReconcile).toBe(0);
    expect(r.desired).toBe(workloads);
    expect(r.cloudInstances).toBe(r.cloudWorkloads.aws + r.cloudWorkloads.gcp);
  },
  (seconds + 900) * 1000,
);
