/**
 * Reconcile's decision, pure: which owned instances no open workflow claims. Everything it
 * needs (the instances, what each workflow says about itself, the time) is passed in.
 */
import { isOfInstallation, type Installation } from '../common/installation';
import type { OwnedInstance } from '../providers/types';

/** What a workflow says about the instances it uses, as reconcile learnt it. */
export type Claim =
  /** Running; it claims its current instance and the attempt it may be provisioning. */
  | {
      kind: 'open';
      current?: string;
      attempts: number;
      /**
       * The attempts it has in flight (launching, booting, starting). Absent from workflows of
       * older versions: then every attempt from `attempts` on counts as in flight.
       */
      inflight?: number[];
      /**
       * Instances it launched or is draining that are not current and not yet ended (the old
       * instance of a make-before-break move, a hedged one booting). Absent from older versions.
       */
      live?: string[];
      /** Instances and attempts it gave up ending: not claimed, whatever else says so. */
      abandoned?: { instances: string[]; attempts: number[] };
    }
  /** Running, but its state could not be read (no worker, a query timeout): hands off. */
  | { kind: 'unknown'; reason: string }
  /** Completed, failed, cancelled, terminated, timed out, or never existed. */
  | { kind: 'closed'; status: string };

export interface Verdict {
  instance: OwnedInstance;
  action: 'keep' | 'terminate';
  reason: string;
}

export interface DecideInput {
  instances: OwnedInstance[];
  /** By workflow id. A workflow id missing here counts as closed ("not found"). */
  claims: Record<string, Claim>;
  now: number;
  /** Unclaimed instances younger than this are kept: their workflow may not have recorded them yet. */
  graceMs: number;
  /**
   * The installation reconciling: an instance without both its namespace and id is another
   * installation's (or predates these marks) and is never touched, whatever its workflow id says.
   * Undefined only for a listing made by a worker of an older version: nothing is filtered.
   */
  installation: Installation | undefined;
}

/** Whose an instance is, in words, for the report. */
function whose(instance: OwnedInstance): string {
  const l = instance.labels;
  if (l?.namespace === undefined && l?.installation === undefined) return 'it names no installation';
  return `it belongs to installation ${l.installation ?? '?'} in namespace ${l.namespace ?? '?'}`;
}

export function decide({ instances, claims, now, graceMs, installation }: DecideInput): Verdict[] {
  return instances.map((instance): Verdict => {
    const keep = (reason: string): Verdict => ({ instance, action: 'keep', reason });
    if (installation && !isOfInstallation(instance.labels, installation))
      return keep(`not ours: ${whose(instance)}`);
    const workflowId = instance.labels?.workflowId;
    let unclaimed: string;
    if (!workflowId) {
      unclaimed = 'it names no workflow';
    } else {
      const claim = claims[workflowId] ?? { kind: 'closed', status: 'NOT_FOUND' };
      if (claim.kind === 'unknown') return keep(`${workflowId} is open but unreadable (${claim.reason})`);
      if (claim.kind === 'open') {
        const attempt = instance.labels?.attempt;
        // An abandoned id always goes; an abandoned attempt's instance unless it is current.
        const given =
          claim.abandoned?.instances.includes(instance.id) ||
          (attempt !== undefined &&
            claim.abandoned?.attempts.includes(attempt) &&
            claim.current !== instance.id);
        if (!given && claim.current === instance.id) return keep(`current instance of ${workflowId}`);
        if (!given && claim.live?.includes(instance.id)) {
          return keep(`${workflowId} has it and will end it (draining or not yet current)`);
        }
        if (given) {
          unclaimed = `${workflowId} could not end it and left it to reconcile`;
        } else if (attempt === undefined) {
          return keep(`an attempt of ${workflowId} may be in flight (it names none)`);
        } else if (claim.inflight ? claim.inflight.includes(attempt) : attempt >= claim.attempts) {
          return keep(`attempt ${attempt} of ${workflowId} is in flight`);
        } else {
          unclaimed = `attempt ${attempt} of ${workflowId} is over (now at attempt ${claim.attempts})`;
        }
      } else {
        unclaimed = `${workflowId} is ${claim.status.toLowerCase().replace(/_/g, ' ')}`;
      }
    }
    const launched = instance.launchedAt ? Date.parse(instance.launchedAt) : NaN;
    if (Number.isFinite(launched) && now - launched < graceMs) {
      return keep(`${unclaimed}, but it is younger than the grace period`);
    }
    return { instance, action: 'terminate', reason: unclaimed };
  });
}
