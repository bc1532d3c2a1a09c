import { cpus } from 'node:os';
import { execFile } from 'node:child_process';

export interface DetectedGpus {
  type: string;
  count: number;
  memoryGb?: number;
}

/**
 * The model a spec names: "NVIDIA A100-SXM4-80GB" -> "A100", "Tesla T4" -> "T4",
 * "NVIDIA GeForce RTX 4090" -> "RTX-4090". Memory is reported separately.
 */
export function gpuModel(name: string): string {
  const words = name
    .replace(/^(NVIDIA|Tesla)\s+/i, '')
    .replace(/^(GeForce|Quadro)\s+/i, '')
    .trim()
    .split(/[\s-]+/);
  const [first = 'unknown', second] = words;
  return /^(RTX|GTX|TITAN)$/i.test(first) && second ? `${first}-${second}` : first;
}

/** Parses `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits`. */
export function parseNvidiaSmi(csv: string): DetectedGpus {
  const rows = csv
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => l.split(',').map((c) => c.trim()));
  if (rows.length === 0) return { type: 'none', count: 0 };
  // A mixed machine is offered as its largest group of one model; the others are left out.
  const groups = new Map<string, string[][]>();
  for (const r of rows) {
    const model = gpuModel(r[0] ?? 'unknown');
    groups.set(model, [...(groups.get(model) ?? []), r]);
  }
  const [type, members] = [...groups.entries()].sort((a, b) => b[1].length - a[1].length)[0]!;
  const mib = Math.min(...members.map((r) => Number(r[1])));
  // Catalogs name the 80 GB A100 "A100-80GB"; the 40 GB one is plain "A100".
  const named = type === 'A100' && mib >= 79 * 1024 ? 'A100-80GB' : type;
  return {
    type: named,
    count: members.length,
    memoryGb: Number.isFinite(mib) && mib > 0 ? Math.round(mib / 1024) : undefined,
  };
}

/** GPUs on this machine according to nvidia-smi; none when it is absent or fails. */
export function detectGpus(timeoutMs = 5000): Promise<DetectedGpus> {
  return new Promise((resolve) => {
    execFile(
      'nvidia-smi',
      ['--query-gpu=name,memory.total', '--format=csv,noheader,nounits'],
      { timeout: timeoutMs },
      (err, stdout) => resolve(err ? { type: 'none', count: 0 } : parseNvidiaSmi(stdout)),
    );
  });
}

/** This machine's cores, counted once: os.cpus() reads /proc/cpuinfo on every call. */
let cpuCount: number | undefined;
export function machineCpus(): number {
  return (cpuCount ??= cpus().length);
}
