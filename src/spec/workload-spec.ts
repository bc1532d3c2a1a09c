import { z } from 'zod';
import { parseRange, type Range } from './ranges';
import { describeValue, durationField, expected } from '../common/duration-field';
import { Budget } from './budget';
import { reservedEnvProblem, specEnv } from './reserved-env';
import { parseSizeGb } from './units';

/**
 * The user's workload file: what it needs, never where it runs. Validated by zod in the client
 * and again in the worker; the workflow receives the parsed (output) form, in which durations
 * are milliseconds and sizes are GB.
 */

const nonNegativeInt = z
  .number({ error: expected('a non-negative integer') })
  .int({ error: expected('a non-negative integer') })
  .min(0, { error: expected('a non-negative integer') });

const positiveNumber = z
  .number({ error: expected('a positive number') })
  .positive({ error: expected('a positive number') });

/** A duration such as "30s", "5m" or a number of seconds; parsed to milliseconds. */
const duration = (minMs = 0, maxMs = Infinity) => durationField({ example: '"30s" or "5m"', minMs, maxMs });

/** An integer from `min` to `max`, described as `what` when it is not. */
const intFrom = (min: number, max: number, what: string) =>
  z
    .number({ error: expected(what) })
    .int({ error: expected(what) })
    .min(min, { error: expected(what) })
    .max(max, { error: expected(what) });

/** A size such as "16GB" or "512MiB", or a number of GB; parsed to GB. */
const sizeGb = z
  .union([z.string(), z.number()], { error: expected('a size such as "16GB"') })
  .transform((v, ctx) => {
    const gb = parseSizeGb(v);
    if (gb === undefined || gb <= 0) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a positive size such as "16GB", got ${describeValue(v)}`,
      });
      return z.NEVER;
    }
    return gb;
  });

const nonEmptyString = (what: string) =>
  z.string({ error: expected(what) }).min(1, { error: expected(what) });

/**
 * A range of vCPUs or GB ("16..", "64GB..256GB") or one positive value (at least that much);
 * see ./ranges.
 */
const range = (unit: 'count' | 'size', what: string) =>
  z.union([z.string(), z.number()], { error: expected(what) }).transform((v, ctx) => {
    const isRange = typeof v === 'string' && /\.\.|\+$/.test(v.trim());
    const r = parseRange(v, unit, 'min');
    if (typeof r === 'string' || (!isRange && !((r.min ?? 0) > 0))) {
      const single = unit === 'size' ? 'a positive size such as "16GB"' : 'a positive number';
      ctx.addIssue({
        code: 'custom',
        message:
          isRange && typeof r === 'string'
            ? r
            : `expected ${isRange ? what : single}, got ${describeValue(v)}`,
      });
      return z.NEVER;
    }
    return r;
  });

/** A GPU count: a positive integer (exact) or a range such as "4..8" or "2..". */
const gpuCount = z
  .union([z.string(), z.number()], { error: expected('a positive integer or a range such as "4..8"') })
  .transform((v, ctx) => {
    const r = parseRange(v, 'count', 'exact');
    const ok =
      typeof r !== 'string' &&
      (r.min ?? 1) >= 1 &&
      Number.isInteger(r.min ?? 1) &&
      (r.max === undefined || Number.isInteger(r.max));
    if (!ok) {
      const isRange = typeof v === 'string' && /\.\.|\+$/.test(v);
      ctx.addIssue({
        code: 'custom',
        message: isRange
          ? typeof r === 'string'
            ? r
            : `expected a range of positive integers such as "4..8", got ${describeValue(v)}`
          : `expected a positive integer, got ${describeValue(v)}`,
      });
      return z.NEVER;
    }
    return r as Range;
  });

const gpuTypes = z
  .union(
    [
      nonEmptyString('a GPU type'),
      z.array(nonEmptyString('a GPU type')).min(1, { error: expected('at least one GPU type') }),
    ],
    { error: expected('a GPU type, a list of GPU types, or "any"') },
  )
  .transform((t) => {
    const list = Array.isArray(t) ? t : [t];
    // "any" (alone or in a list) accepts every GPU model.
    return list.some((x) => x.toLowerCase() === 'any') ? undefined : list;
  });

const gpuObject = z.strictObject(
  {
    /** One model, a list of acceptable models, or "any". @default "any" */
    type: gpuTypes.optional(),
    /** GPUs per instance: a number (exact) or a range. @default 1 */
    count: gpuCount.default({ min: 1, max: 1 }),
    /** Memory of each GPU: "40GB.." (at least), "24GB..48GB", or one size (at least). */
    memory: range('size', 'a GPU memory size or range such as "40GB.."').optional(),
  },
  { error: expected('a GPU request such as "H100:8" or {type, count}') },
);

/**
 * GPUs: `H100:8`, `A100:4..8`, `any`, `any:2`, `L4` (one), or {type, count, memory}.
 * Parsed to { type?: string[] (absent = any model), count: Range, memory?: Range (GB) }.
 */
export const GpuRequest = z
  .unknown()
  .transform((v, ctx): { type?: string[]; count: Range; memory?: Range } => {
    if (typeof v !== 'string') {
      // The object form: its own errors keep their paths (resources.gpu.count, ...).
      const parsed = gpuObject.safeParse(v);
      if (!parsed.success) {
        // Re-raised as they are (an unknown key stays an unknown key), at their own paths.
        for (const issue of parsed.error.issues) ctx.addIssue(issue as Parameters<typeof ctx.addIssue>[0]);
        return z.NEVER;
      }
      const { type, count, memory } = parsed.data;
      return { ...(type && { type }), count, ...(memory && { memory }) };
    }
    const text = v.trim();
    const colon = text.lastIndexOf(':');
    const name = colon >= 0 ? text.slice(0, colon).trim() : text;
    const countText = colon >= 0 ? text.slice(colon + 1).trim() : '1';
    const count = parseRange(countText, 'count', 'exact');
    if (!name || typeof count === 'string' || (count.min ?? 1) < 1 || !Number.isInteger(count.min ?? 1)) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a GPU request such as "H100:8", "A100:4..8" or "any", got ${describeValue(v)}`,
      });
      return z.NEVER;
    }
    return { type: name.toLowerCase() === 'any' ? undefined : [name], count };
  });
export type GpuRequest = z.output<typeof GpuRequest>;

const resourceFields = {
  gpu: GpuRequest.optional(),
  /** vCPUs: a number (at least) or a range such as "16..32". */
  cpu: range('count', 'a vCPU count or range such as 16 or "16..32"').optional(),
  /** RAM: "64GB" (at least) or a range such as "64GB..256GB"; GB after parsing. */
  memory: range('size', 'a size or range such as "64GB" or "64GB..256GB"').optional(),
  /** Root disk size to provision, e.g. "200GB". */
  disk: sizeGb.optional(),
};

/** Allowed and denied names, with globs (`us-*`, `europe-west4-?`). A plain list is an allow list. */
const allowDeny = (what: string) =>
  z
    .union(
      [
        z.array(nonEmptyString(`a ${what}`), { error: expected(`a list of ${what}s`) }).min(1, {
          error: expected(`at least one ${what}`),
        }),
        z.strictObject(
          {
            allow: z
              .array(nonEmptyString(`a ${what}`))
              .min(1, { error: expected(`at least one ${what}`) })
              .optional(),
            deny: z
              .array(nonEmptyString(`a ${what}`))
              .min(1, { error: expected(`at least one ${what}`) })
              .optional(),
          },
          { error: expected(`a list of ${what}s or {allow, deny}`) },
        ),
      ],
      { error: expected(`a list of ${what}s or {allow, deny}`) },
    )
    .transform((v): { allow?: string[]; deny?: string[] } => (Array.isArray(v) ? { allow: v } : v));

const placementFields = {
  /** Providers, e.g. ["aws", "local"] or {deny: [gcp]}. @default every configured provider */
  providers: allowDeny('provider name').optional(),
  /** Regions (for local pools: pool names), with globs. */
  regions: allowDeny('region').optional(),
  /** Zones, with globs. */
  zones: allowDeny('zone').optional(),
  /** Spot (preemptible) capacity: never, allow (cheapest of both), or require. @default never */
  spot: z
    .enum(['never', 'allow', 'require'], { error: expected('"never", "allow" or "require"') })
    .optional(),
  /** The most the instance may cost, US dollars per hour. */
  maxPricePerHour: positiveNumber.optional(),
  /** Pin one instance type (AWS instance type, GCP machine type). */
  instanceType: nonEmptyString('an instance type').optional(),
};

export const PlacementConstraints = z
  .strictObject(
    {
      ...placementFields,
      /**
       * Hedged provisioning: provision the best K offers at once, keep the first that becomes
       * ready, terminate the others. @default 1 (no hedging)
       */
      hedge: intFrom(1, 5, 'an integer from 1 to 5').optional(),
    },
    { error: expected('an object') },
  )
  .transform((p) => ({ ...p, spot: p.spot ?? ('never' as const), hedge: p.hedge ?? 1 }));
export type PlacementConstraints = z.output<typeof PlacementConstraints>;

/** A candidate's placement: only what it overrides (no defaults). */
export const PlacementOverride = z.strictObject(placementFields, { error: expected('an object') });
export type PlacementOverride = z.output<typeof PlacementOverride>;

/** One alternative: a partial override of the resources and the placement. */
export const Candidate = z.strictObject(
  { ...resourceFields, placement: PlacementOverride.optional() },
  { error: expected('an object with gpu, cpu, memory, disk or placement') },
);
export type Candidate = z.output<typeof Candidate>;

export const Resources = z
  .strictObject(
    {
      ...resourceFields,
      /** Alternatives; the cheapest offer of any of them wins (SkyPilot's any_of). */
      anyOf: z
        .array(Candidate, { error: expected('a list of alternatives') })
        .min(1)
        .optional(),
      /** Alternatives tried in the order given (SkyPilot's ordered). */
      ordered: z
        .array(Candidate, { error: expected('a list of alternatives') })
        .min(1)
        .optional(),
    },
    { error: expected('an object') },
  )
  .superRefine((r, ctx) => {
    if (r.anyOf && r.ordered) {
      ctx.addIssue({ code: 'custom', message: 'use either anyOf or ordered, not both', path: ['ordered'] });
    }
  });
export type Resources = z.output<typeof Resources>;

export const HealthPolicy = z.strictObject(
  {
    /** The agent's heartbeats must arrive this often or the instance counts as lost. @default 15s */
    heartbeatTimeout: duration(1000).default(15_000),
    /** How long a fresh instance may take until its agent runs the workload. @default 2m */
    startupGrace: duration(1000).default(120_000),
    /**
     * The workload serves HTTP: the agent gives it PORT and checks it. A new instance counts as
     * ready once a check passes; a running one as unhealthy after `failureThreshold` failed
     * checks in a row (never after one).
     */
    http: z
      .strictObject(
        {
          /** @default "/" */
          path: z
            .string({ error: expected('a path such as "/healthz"') })
            .startsWith('/', { error: expected('a path starting with "/"') })
            .default('/'),
          /** The port it serves on. @default a free port the agent picks, given as PORT */
          port: intFrom(1, 65535, 'a port from 1 to 65535').optional(),
          /** @default 2s */
          interval: duration(100).default(2000),
          /** @default 1s */
          timeout: duration(100).default(1000),
          /** @default 3 */
          failureThreshold: z
            .number({ error: expected('a positive integer') })
            .int({ error: expected('a positive integer') })
            .min(1, { error: expected('a positive integer') })
            .default(3),
        },
        { error: expected('an object with path, port, interval, timeout, failureThreshold') },
      )
      .optional(),
  },
  { error: expected('an object') },
);
export type HealthPolicy = z.output<typeof HealthPolicy>;

export const RecoveryPolicy = z.strictObject(
  {
    /** Restarts after the workload itself fails (non-zero exit) before the workflow fails. @default 3 */
    maxRestarts: nonNegativeInt.default(3),
    /** How long a location that failed is skipped by placement. @default 5m */
    cooldown: duration().default(300_000),
    /** Only restarts within this window count against maxRestarts. @default forever */
    restartWindow: duration(1000).optional(),
    /** Exit codes that always restart and never count (e.g. a job that checkpoints and exits 75). */
    restartExitCodes: z.array(nonNegativeInt, { error: expected('a list of exit codes') }).default([]),
    /** Wait before a restart: doubles from `initial` up to `max`; a stop or migration cuts it short. */
    backoff: z
      .strictObject(
        {
          /** @default 1s */
          initial: duration().default(1000),
          /** @default 1m */
          max: duration().default(60_000),
        },
        { error: expected('an object with initial and max') },
      )
      .default({ initial: 1000, max: 60_000 }),
    /** After a make-before-break switch, the old instance serves this long before it is terminated. @default 5s */
    drain: duration().default(5000),
    // The four below have no schema default, so a spec's hash (and `apply`'s "unchanged") is
    // the same as before they existed; the workflow applies the defaults (RECOVERY_DEFAULTS).
    /**
     * Consecutive starts that never reached a healthy RUNNING (the instance never became ready,
     * the agent never started the workload, it never answered its HTTP check) before the
     * workflow fails instead of provisioning again. @default 3
     */
    maxStartFailures: intFrom(1, 1000, 'an integer from 1 to 1000').optional(),
    /** Losses of a running instance within `recoveryWindow` before the workflow fails. @default 10 */
    maxRecoveries: nonNegativeInt.optional(),
    /** The window `maxRecoveries` counts losses in. @default 1h */
    recoveryWindow: duration(1000).optional(),
    /**
     * On a stop, a migration, a spec update, a restart in place or the agent's own shutdown, the
     * workload gets SIGTERM and this long to exit before SIGKILL (then the instance goes).
     * At most 10m: a cloud machine's shutdown does not wait longer. @default 30s
     */
    stopGrace: duration(0, 600_000).optional(),
  },
  { error: expected('an object') },
);
export type RecoveryPolicy = z.output<typeof RecoveryPolicy>;

export const WORKLOAD_NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

const WorkloadSpecFields = z.strictObject(
  {
    /** Lower-case letters, digits and dashes; the workflow id is `workload-<name>`. */
    name: z.string({ error: expected('a name') }).regex(WORKLOAD_NAME_PATTERN, {
      error: (i) =>
        `expected lower-case letters, digits and dashes (at most 63, no dash at either end), got ${describeValue(i.input)}`,
    }),
    /** A service runs until stopped; a job runs to completion. */
    kind: z.enum(['service', 'job'], { error: expected('"service" or "job"') }),
    /** The program and its arguments (argv, not a shell line). */
    command: z
      .array(z.string({ error: expected('a string') }), { error: expected('a list of strings (argv)') })
      .min(1, { error: expected('at least the program name') }),
    env: specEnv().default({}),
    resources: Resources.default({}),
    placement: PlacementConstraints.default({ spot: 'never', hedge: 1 }),
    health: HealthPolicy.default({ heartbeatTimeout: 15_000, startupGrace: 120_000 }),
    recovery: RecoveryPolicy.default({
      maxRestarts: 3,
      cooldown: 300_000,
      restartExitCodes: [],
      backoff: { initial: 1000, max: 60_000 },
      drain: 5000,
    }),
    /** What the workload may cost in all (./budget.ts). */
    budget: Budget.optional(),
  },
  { error: expected('a workload spec (a mapping with name, kind and command)') },
);
// Nor PORT when the workload has an HTTP check: the agent sets it then (./reserved-env.ts).
export const WorkloadSpec = WorkloadSpecFields.superRefine((spec, ctx) => {
  const message = 'PORT' in spec.env && reservedEnvProblem('PORT', !!spec.health.http);
  if (message) ctx.addIssue({ code: 'custom', path: ['env', 'PORT'], message });
});
/** The parsed spec: durations in milliseconds, sizes in GB, GPU types as a list. */
export type WorkloadSpec = z.output<typeof WorkloadSpec>;
/** The spec as a user writes it. */
export type WorkloadSpecInput = z.input<typeof WorkloadSpec>;
