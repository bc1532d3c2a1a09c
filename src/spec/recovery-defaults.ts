/**
 * Defaults of the recovery limits, applied by the workflow rather than the schema: a spec's
 * hash stays what it was before the limits existed, and workflows started before them get the
 * same limits. No imports: the workflow sandbox loads this file.
 */
import type { RecoveryPolicy } from './workload-spec';

export const RECOVERY_DEFAULTS = {
  /** @see RecoveryPolicy.maxStartFailures */
  maxStartFailures: 3,
  /** @see RecoveryPolicy.maxRecoveries */
  maxRecoveries: 10,
  /** @see RecoveryPolicy.recoveryWindow (1h) */
  recoveryWindow: 3_600_000,
  /** @see RecoveryPolicy.stopGrace (30s) */
  stopGrace: 30_000,
} as const;

/** The recovery limits of a spec, defaults filled in. */
export function recoveryLimits(recovery: Partial<RecoveryPolicy>): {
  maxStartFailures: number;
  maxRecoveries: number;
  recoveryWindow: number;
  stopGrace: number;
} {
  return {
    maxStartFailures: recovery.maxStartFailures ?? RECOVERY_DEFAULTS.maxStartFailures,
    maxRecoveries: recovery.maxRecoveries ?? RECOVERY_DEFAULTS.maxRecoveries,
    recoveryWindow: recovery.recoveryWindow ?? RECOVERY_DEFAULTS.recoveryWindow,
    stopGrace: recovery.stopGrace ?? RECOVERY_DEFAULTS.stopGrace,
  };
}
