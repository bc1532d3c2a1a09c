import { z } from 'zod';
import { parseDuration, parseSizeGb } from './units';

/**
 * The user's workload file: what it needs, never where it runs. Validated by zod in the client
 * and again in the worker; the workflow receives the parsed (output) form, in which durations
 * are milliseconds and sizes are GB.
 */

const got = (v: unknown): string => {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return v.length === 0 ? 'an empty list' : 'a list';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return String(v);
};

/** An error message that says what was expected and what was found. */
const expected =
  (what: string) =>
  (issue: { input?: unknown }): string =>
    `expected ${what}, got ${got(issue.input)}`;

const positiveInt = z
  .number({ error: expected('a positive integer') })
  .int({ error: expected('a positive integer') })
  .positive({ error: expected('a positive integer') });

const nonNegativeInt = z
  .number({ error: expected('a non-negative integer') })
  .int({ error: expected('a non-negative integer') })
  .min(0, { error: expected('a non-negative integer') });

const positiveNumber = z
  .number({ error: expected('a positive number') })
  .positive({ error: expected('a positive number') });

/** A duration such as "30s", "5m" or a number of seconds; parsed to milliseconds. */
const duration = (minMs = 0) =>
  z
    .union([z.string(), z.number()], { error: expected('a duration such as "30s" or "5m"') })
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined || ms < minMs) {
        ctx.addIssue({
          code: 'custom',
          message:
            ms === undefined
              ? `expected a duration such as "30s" or "5m", got ${got(v)}`
              : `expected a duration of at least ${minMs / 1000}s, got ${got(v)}`,
        });
        return z.NEVER;
      }
      return ms;
    });

/** A size such as "16GB" or "512MiB", or a number of GB; parsed to GB. */
const sizeGb = z
  .union([z.string(), z.number()], { error: expected('a size such as "16GB"') })
  .transform((v, ctx) => {
    const gb = parseSizeGb(v);
    if (gb === undefined || gb <= 0) {
      ctx.addIssue({ code: 'custom', message: `expected a positive size such as "16GB", got ${got(v)}` });
      return z.NEVER;
    }
    return gb;
  });

const nonEmptyString = (what: string) =>
  z.string({ error: expected(what) }).min(1, { error: expected(what) });

export const GpuRequest = z
  .strictObject(
    {
      /** One acceptable GPU model or a list of them, e.g. "A100" or ["A100", "H100"]. */
      type: z
        .union(
          [
            nonEmptyString('a GPU type'),
            z.array(nonEmptyString('a GPU type')).min(1, { error: expected('at least one GPU type') }),
          ],
          {
            error: expected('a GPU type or a list of GPU types'),
          },
        )
        .transform((t) => (Array.isArray(t) ? t : [t])),
      /** GPUs per instance. @default 1 */
      count: positiveInt.default(1),
    },
    { error: expected('an object with type and count') },
  )
  .describe('GPU model(s) and count');
export type GpuRequest = z.output<typeof GpuRequest>;

export const Resources = z.strictObject(
  {
    gpu: GpuRequest.optional(),
    /** vCPUs. */
    cpu: positiveNumber.optional(),
    /** RAM, e.g. "16GB"; GB after parsing. */
    memory: sizeGb.optional(),
  },
  { error: expected('an object') },
);
export type Resources = z.output<typeof Resources>;

export const PlacementConstraints = z.strictObject(
  {
    /** Providers allowed, e.g. ["local"]. @default all configured providers */
    providers: z
      .array(nonEmptyString('a provider name'), { error: expected('a list of provider names') })
      .min(1, { error: expected('at least one provider') })
      .optional(),
  },
  { error: expected('an object') },
);
export type PlacementConstraints = z.output<typeof PlacementConstraints>;

export const HealthPolicy = z.strictObject(
  {
    /** The agent's heartbeats must arrive this often or the instance counts as lost. @default 15s */
    heartbeatTimeout: duration(1000).default(15_000),
    /** How long a fresh instance may take until its agent runs the workload. @default 2m */
    startupGrace: duration(1000).default(120_000),
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
  },
  { error: expected('an object') },
);
export type RecoveryPolicy = z.output<typeof RecoveryPolicy>;

export const WORKLOAD_NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export const WorkloadSpec = z.strictObject(
  {
    /** Lower-case letters, digits and dashes; the workflow id is `workload-<name>`. */
    name: z.string({ error: expected('a name') }).regex(WORKLOAD_NAME_PATTERN, {
      error: (i) =>
        `expected lower-case letters, digits and dashes (at most 63, no dash at either end), got ${got(i.input)}`,
    }),
    /** A service runs until stopped; a job runs to completion. */
    kind: z.enum(['service', 'job'], { error: expected('"service" or "job"') }),
    /** The program and its arguments (argv, not a shell line). */
    command: z
      .array(z.string({ error: expected('a string') }), { error: expected('a list of strings (argv)') })
      .min(1, { error: expected('at least the program name') }),
    env: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean()], { error: expected('a string') }), {
        error: expected('a map of names to strings'),
      })
      .transform((e) => Object.fromEntries(Object.entries(e).map(([k, v]) => [k, String(v)])))
      .default({}),
    resources: Resources.default({}),
    placement: PlacementConstraints.default({}),
    health: HealthPolicy.default({ heartbeatTimeout: 15_000, startupGrace: 120_000 }),
    recovery: RecoveryPolicy.default({ maxRestarts: 3, cooldown: 300_000 }),
  },
  { error: expected('a workload spec (a mapping with name, kind and command)') },
);
/** The parsed spec: durations in milliseconds, sizes in GB, GPU types as a list. */
export type WorkloadSpec = z.output<typeof WorkloadSpec>;
/** The spec as a user writes it. */
export type WorkloadSpecInput = z.input<typeof WorkloadSpec>;
