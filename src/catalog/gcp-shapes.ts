/**
 * Which GPUs go with which GCP machine type.
 *
 * SkyPilot's GCP catalog (v7) splits the price of a GPU VM: machine-type rows (`a2-highgpu-8g`,
 * `g2-standard-4`, `n1-standard-8`, ...) carry the host price with empty accelerator columns, and
 * accelerator rows (empty InstanceType) carry the price of N GPUs of one model in one zone. The
 * pairing is not in the CSV; it follows from Google's documented machine shapes:
 *
 * | machine types                         | GPUs                                                   |
 * | ------------------------------------- | ------------------------------------------------------ |
 * | `a2-highgpu-{1,2,4,8}g`               | built in: 1, 2, 4, 8 x `A100` (40 GB)                  |
 * | `a2-ultragpu-{1,2,4,8}g`              | built in: 1, 2, 4, 8 x `A100-80GB`                     |
 * | `a3-highgpu-{1,2,4,8}g`               | built in: 1, 2, 4, 8 x `H100` (80 GB)                  |
 * | `g2-standard-{4,8,12,16,32}`          | built in: 1 x `L4`                                     |
 * | `g2-standard-24`                      | built in: 2 x `L4`                                     |
 * | `g2-standard-48`                      | built in: 4 x `L4`                                     |
 * | `g2-standard-96`                      | built in: 8 x `L4`                                     |
 * | `n1-standard-*`, `n1-highmem-*`       | none built in; may attach `T4`, `V100` or `P100`,      |
 * |                                       | see {@link N1_ATTACHABLE} for counts and vCPU limits   |
 *
 * Sources: cloud.google.com/compute/docs/gpus (GPU machine types: "A2", "A3", "G2" and "N1 with
 * attached GPUs" tables). Only the shapes above are known here; a machine type of a GPU family
 * (`a2-`, `a3-`, `a4-`, `a4x-`, `g2-`, `g4-`) that is not in the table (`a2-megagpu-16g`,
 * `a3-megagpu-8g`, ...) has GPUs built in that this table cannot price, so it gives no offer
 * (see {@link isGcpGpuFamily}); any other machine type is a CPU-only host.
 */

/** A machine type with a fixed number of GPUs of one model. */
export interface BuiltInGpus {
  kind: 'built-in';
  gpu: string;
  count: number;
}

/** One way to attach GPUs to an N1 host: `count` x `gpu`, on hosts of at most `maxVcpus` vCPUs. */
export interface N1Attachment {
  gpu: string;
  count: number;
  maxVcpus: number;
}

/** A host that runs without GPUs and may take one of the listed attachments. */
export interface AttachableGpus {
  kind: 'attachable';
  options: readonly N1Attachment[];
}

export type GcpShape = BuiltInGpus | AttachableGpus;

const builtIn = (gpu: string, count: number): BuiltInGpus => ({ kind: 'built-in', gpu, count });

/** Machine types with GPUs built in, by exact name. */
export const GCP_BUILT_IN_GPUS: Readonly<Record<string, BuiltInGpus>> = Object.freeze({
  'a2-highgpu-1g': builtIn('A100', 1),
  'a2-highgpu-2g': builtIn('A100', 2),
  'a2-highgpu-4g': builtIn('A100', 4),
  'a2-highgpu-8g': builtIn('A100', 8),
  'a2-ultragpu-1g': builtIn('A100-80GB', 1),
  'a2-ultragpu-2g': builtIn('A100-80GB', 2),
  'a2-ultragpu-4g': builtIn('A100-80GB', 4),
  'a2-ultragpu-8g': builtIn('A100-80GB', 8),
  'a3-highgpu-1g': builtIn('H100', 1),
  'a3-highgpu-2g': builtIn('H100', 2),
  'a3-highgpu-4g': builtIn('H100', 4),
  'a3-highgpu-8g': builtIn('H100', 8),
  'g2-standard-4': builtIn('L4', 1),
  'g2-standard-8': builtIn('L4', 1),
  'g2-standard-12': builtIn('L4', 1),
  'g2-standard-16': builtIn('L4', 1),
  'g2-standard-32': builtIn('L4', 1),
  'g2-standard-24': builtIn('L4', 2),
  'g2-standard-48': builtIn('L4', 4),
  'g2-standard-96': builtIn('L4', 8),
});

/**
 * GPUs an N1 host may attach: the model, how many, and the largest host (in vCPUs) that may take
 * that many (GCP: "N1 machine types with attached GPUs").
 * T4: 1 -> 48, 2 -> 48, 4 -> 96. V100: 1 -> 12, 2 -> 24, 4 -> 48, 8 -> 96. P100: 1 -> 16, 2 -> 32, 4 -> 96.
 */
export const N1_ATTACHABLE: readonly N1Attachment[] = Object.freeze([
  { gpu: 'T4', count: 1, maxVcpus: 48 },
  { gpu: 'T4', count: 2, maxVcpus: 48 },
  { gpu: 'T4', count: 4, maxVcpus: 96 },
  { gpu: 'V100', count: 1, maxVcpus: 12 },
  { gpu: 'V100', count: 2, maxVcpus: 24 },
  { gpu: 'V100', count: 4, maxVcpus: 48 },
  { gpu: 'V100', count: 8, maxVcpus: 96 },
  { gpu: 'P100', count: 1, maxVcpus: 16 },
  { gpu: 'P100', count: 2, maxVcpus: 32 },
  { gpu: 'P100', count: 4, maxVcpus: 96 },
]);

const N1_HOST = /^n1-(standard|highmem)-\d+$/;

/** One GPU model on GCP: its GCE accelerator type (what an N1 host attaches) and one GPU's memory. */
export interface GcpGpu {
  /** The accelerator type name GCE takes, e.g. "nvidia-tesla-t4". */
  acceleratorType: string;
  /** Memory of one GPU in GB, when the table knows it. */
  memoryGb?: number;
}

/** Every GPU model driftless knows on GCP, by SkyPilot accelerator name. */
export const GCP_GPUS: Readonly<Record<string, GcpGpu>> = Object.freeze({
  T4: { acceleratorType: 'nvidia-tesla-t4', memoryGb: 16 },
  V100: { acceleratorType: 'nvidia-tesla-v100', memoryGb: 16 },
  P100: { acceleratorType: 'nvidia-tesla-p100', memoryGb: 16 },
  P4: { acceleratorType: 'nvidia-tesla-p4' },
  K80: { acceleratorType: 'nvidia-tesla-k80' },
  A100: { acceleratorType: 'nvidia-tesla-a100', memoryGb: 40 },
  'A100-80GB': { acceleratorType: 'nvidia-a100-80gb', memoryGb: 80 },
  H100: { acceleratorType: 'nvidia-h100-80gb', memoryGb: 80 },
  L4: { acceleratorType: 'nvidia-l4', memoryGb: 24 },
});

/** What the table knows of a GPU model (own keys only: "constructor" is no GPU). */
export function gcpGpu(name: string): GcpGpu | undefined {
  return Object.prototype.hasOwnProperty.call(GCP_GPUS, name) ? GCP_GPUS[name] : undefined;
}

/** The shape of a GCP machine type, or undefined when the table does not know it. */
export function gcpShape(machineType: string): GcpShape | undefined {
  if (Object.prototype.hasOwnProperty.call(GCP_BUILT_IN_GPUS, machineType))
    return GCP_BUILT_IN_GPUS[machineType];
  if (N1_HOST.test(machineType)) return { kind: 'attachable', options: N1_ATTACHABLE };
  return undefined;
}

/** Is this a machine type of a GCP family whose machine types all have GPUs built in? */
export function isGcpGpuFamily(machineType: string): boolean {
  return /^(a2|a3|a4|a4x|g2|g4)-/.test(machineType);
}

/** `a2-highgpu-8g` -> `a2-highgpu`, `n1-standard-8` -> `n1-standard`. */
export function machineFamily(machineType: string): string {
  const k = machineType.lastIndexOf('-');
  return k > 0 ? machineType.slice(0, k) : machineType;
}
