/**
 * What a workload has cost: a ledger the workflow keeps in its status (so it survives worker
 * restarts and continue-as-new) of every instance it launched, priced at its offer's $/h from
 * launch to termination. Ended instances are summed into `accruedUsd`; open ones carry their
 * price and start, so anyone can say what the workload has cost up to any moment. Pure: used by
 * the workflow (budget, search attribute) and the CLI (status, ls, cost).
 */

/** An instance still billed. */
export interface OpenCharge {
  instanceId: string;
  pricePerHour: number;
  /** ISO time it started to cost (its launch). */
  since: string;
}

export interface CostLedger {
  /** US dollars of the instances already ended. */
  accruedUsd: number;
  /** Instances launched and not yet ended. */
  open: OpenCharge[];
  /** Instances ever charged (ended and open). */
  instances: number;
}

const HOUR_MS = 3_600_000;

export function emptyLedger(): CostLedger {
  return { accruedUsd: 0, open: [], instances: 0 };
}

/** What the open instances cost per hour together. */
export function ratePerHour(l: CostLedger | undefined): number {
  return (l?.open ?? []).reduce((sum, c) => sum + c.pricePerHour, 0);
}

/** US dollars up to `nowMs`: the ended instances and the open ones so far. */
export function costSoFar(l: CostLedger | undefined, nowMs: number): number {
  if (!l) return 0;
  const open = l.open.reduce(
    (sum, c) => sum + (c.pricePerHour * Math.max(0, nowMs - Date.parse(c.since))) / HOUR_MS,
    0,
  );
  return l.accruedUsd + open;
}

/** Starts charging an instance (once: a second start of the same id changes nothing). */
export function openCharge(l: CostLedger, instanceId: string, pricePerHour: number, sinceMs: number): void {
  if (l.open.some((c) => c.instanceId === instanceId)) return;
  l.open.push({ instanceId, pricePerHour, since: new Date(sinceMs).toISOString() });
  l.instances += 1;
}

/** Stops charging an instance at `atMs` and adds what it cost to the accrued total. */
export function closeCharge(l: CostLedger, instanceId: string, atMs: number): void {
  const i = l.open.findIndex((c) => c.instanceId === instanceId);
  if (i < 0) return;
  const [c] = l.open.splice(i, 1);
  l.accruedUsd += (c!.pricePerHour * Math.max(0, atMs - Date.parse(c!.since))) / HOUR_MS;
}

/**
 * When (ms) the cost reaches `maxUsd` at the current rate, or undefined when nothing is charged
 * (it cannot grow). Already reached: `nowMs`.
 */
export function budgetReachedAt(
  l: CostLedger | undefined,
  maxUsd: number,
  nowMs: number,
): number | undefined {
  const left = maxUsd - costSoFar(l, nowMs);
  if (left <= 0) return nowMs;
  const rate = ratePerHour(l);
  return rate > 0 ? nowMs + Math.ceil((left / rate) * HOUR_MS) : undefined;
}

/** "$12.34" (cents), "$0.0042" below a cent. */
export function formatUsd(usd: number): string {
  return usd !== 0 && Math.abs(usd) < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}
