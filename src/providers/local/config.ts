/** Configuration of the local provider (`providers.local` in driftless.config.yaml): pools on this machine. */
import { z } from 'zod';
import { durationField } from '../../common/duration-field';

/** The provider's name: its key under `providers:` and on every offer and instance. */
export const LOCAL_PROVIDER = 'local';

const duration = durationField({ example: '"2s"' });

/** A GPU inventory: declared, or "detect" to ask nvidia-smi. */
export const PoolGpus = z.union([
  z.literal('detect'),
  z.strictObject({
    type: z.string().min(1),
    count: z.number().int().min(0),
    /** Memory of one GPU in GB. */
    memoryGb: z.number().positive().optional(),
  }),
]);

export const LocalPoolConfig = z.strictObject({
  /** Pool name, shown as the region and zone of its offers. */
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'expected lower-case letters, digits and dashes'),
  /** @default "detect" (nvidia-smi; no GPUs when it is absent) */
  gpus: PoolGpus.default('detect'),
  /** vCPUs offered. @default the machine's cores */
  cpus: z.number().positive().optional(),
  /** RAM offered, GB. @default the machine's memory */
  memoryGb: z.number().positive().optional(),
  /** Price of one GPU-hour. @default 0 */
  pricePerGpuHour: z.number().min(0).default(0),
  /** Price per hour of an instance before GPUs. @default 0 */
  pricePerHour: z.number().min(0).default(0),
  /** Simulated boot time: provision waits this long after starting the agent. @default 0 */
  bootDelay: duration.default(0),
  /**
   * Simulated machine boot: provision returns at once, and the instance describes as pending
   * this long after its launch (as a cloud VM does while it boots). @default 0
   */
  readyDelay: duration.default(0),
  /**
   * Where the instances' agents run: "process", one process per instance (as on a real
   * machine); "shared", scale mode: one agent host process per pool holds every instance's
   * agent (each with its own task queue, activities and heartbeats, and its workload in its own
   * process group), so a thousand simulated instances fit on a laptop. @default "process"
   */
  agents: z.enum(['process', 'shared']).default('process'),
  /**
   * The user the pool's workloads run as (a name in this machine's passwd), so that a workload
   * cannot read its agent's environment or files: the agent (so the worker) must run as root.
   * @default the agent's own user
   */
  runAs: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]*\$?$/i, 'expected a user name (letters, digits, "_" and "-")')
    .optional(),
});
export type LocalPoolConfig = z.output<typeof LocalPoolConfig>;

export const LocalProviderConfig = z.strictObject({
  pools: z.array(LocalPoolConfig).min(1),
});
export type LocalProviderConfig = z.output<typeof LocalProviderConfig>;

/** What runs when no provider is configured at all: one pool on this machine, GPUs from nvidia-smi. */
export function defaultLocalConfig(): LocalProviderConfig {
  return LocalProviderConfig.parse({ pools: [{ name: LOCAL_PROVIDER }] });
}
