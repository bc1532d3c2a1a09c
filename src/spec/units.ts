/** Parsers for the human units a spec accepts. Pure; no imports. */

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * "90s", "5m", "1h30m", "250ms", or a plain number of seconds. Returns milliseconds, or
 * undefined when the text is not a duration.
 */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) return undefined;
  return parts.reduce((sum, p) => sum + Number(p[1]) * DURATION_UNITS_MS[p[2] as string]!, 0);
}

const SIZE_UNITS_GB: Record<string, number> = {
  b: 1 / 1e9,
  kb: 1e-6,
  mb: 1e-3,
  gb: 1,
  tb: 1e3,
  kib: 1024 / 1e9,
  mib: 1024 ** 2 / 1e9,
  gib: 1024 ** 3 / 1e9,
  tib: 1024 ** 4 / 1e9,
};

/** "16GB", "512MiB", "1.5TB", or a plain number of GB. Returns GB, or undefined. */
export function parseSizeGb(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(value.trim());
  if (!m) return undefined;
  const unit = (m[2] ?? '').toLowerCase() || 'gb';
  const factor = SIZE_UNITS_GB[unit];
  return factor === undefined ? undefined : Number(m[1]) * factor;
}

/** 90000 -> "1m30s", rounded to whole seconds from 1s up: for messages and tables. */
export function formatDuration(ms: number): string {
  ms = Math.max(0, ms);
  if (Math.round(ms) < 1000) return `${Math.round(ms)}ms`;
  let s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return [h ? `${h}h` : '', m ? `${m}m` : '', s || (!h && !m) ? `${s}s` : ''].join('');
}
