import { execFile } from 'node:child_process';

export interface DetectedGpus {
  type: string;
  count: number;
  memoryGb?: number;
}

/** "NVIDIA A100-SXM4-80GB" -> "A100-SXM4-80GB"; names are matched case-insensitively later. */
function shortName(name: string): string {
  return name
    .replace(/^NVIDIA\s+/i, '')
    .replace(/^Tesla\s+/i, '')
    .trim();
}

/** Parses `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits`. */
export function parseNvidiaSmi(csv: string): DetectedGpus {
  const rows = csv
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => l.split(',').map((c) => c.trim()));
  if (rows.length === 0) return { type: 'none', count: 0 };
  const [name, mem] = rows[0]!;
  const mib = Number(mem);
  return {
    type: shortName(name ?? 'unknown'),
    count: rows.length,
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
