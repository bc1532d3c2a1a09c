/**
 * Ranges in specs: "16..", "..32", "16..32", "16+", or one value. Pure; no imports but units.
 */
import { parseSizeGb } from './units';

/** Inclusive bounds; a missing bound is open. */
export interface Range {
  min?: number;
  max?: number;
}

/**
 * Parses a range of numbers (`unit: 'count'`) or of sizes in GB (`unit: 'size'`). A single value
 * means "at least" (`single: 'min'`) or "exactly" (`single: 'exact'`). Returns a message on error.
 */
export function parseRange(
  value: string | number,
  unit: 'count' | 'size',
  single: 'min' | 'exact',
): Range | string {
  const one = (v: string | number): number | undefined => {
    if (unit === 'size') return parseSizeGb(v);
    if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
    return /^\d+(\.\d+)?$/.test(v.trim()) ? Number(v.trim()) : undefined;
  };
  const what =
    unit === 'size'
      ? 'a size or range such as "64GB", "64GB.." or "64GB..256GB"'
      : 'a number or range such as "8", "4..8" or "16.."';
  let range: Range;
  if (typeof value === 'number') {
    const n = one(value);
    if (n === undefined) return `expected ${what}, got ${value}`;
    range = single === 'exact' ? { min: n, max: n } : { min: n };
  } else {
    const text = value.trim();
    const plus = /^(.+)\+$/.exec(text);
    const dots = /^(.*)\.\.(.*)$/.exec(text);
    if (plus) {
      const n = one(plus[1]!);
      if (n === undefined) return `expected ${what}, got ${JSON.stringify(value)}`;
      range = { min: n };
    } else if (dots) {
      const [lo, hi] = [dots[1]!.trim(), dots[2]!.trim()];
      const min = lo === '' ? undefined : one(lo);
      const max = hi === '' ? undefined : one(hi);
      if ((lo !== '' && min === undefined) || (hi !== '' && max === undefined) || (lo === '' && hi === '')) {
        return `expected ${what}, got ${JSON.stringify(value)}`;
      }
      range = { ...(min !== undefined && { min }), ...(max !== undefined && { max }) };
    } else {
      const n = one(text);
      if (n === undefined) return `expected ${what}, got ${JSON.stringify(value)}`;
      range = single === 'exact' ? { min: n, max: n } : { min: n };
    }
  }
  if (range.min !== undefined && range.max !== undefined && range.min > range.max) {
    return `the lower bound ${range.min} is above the upper bound ${range.max} in ${JSON.stringify(value)}`;
  }
  if ((range.min ?? 1) < 0 || (range.max ?? 1) < 0)
    return `expected non-negative bounds, got ${JSON.stringify(value)}`;
  return range;
}

export function inRange(v: number, r: Range | undefined): boolean {
  return !r || ((r.min === undefined || v >= r.min) && (r.max === undefined || v <= r.max));
}

/** "8", "4..8", "16..", "..32"; sizes get a GB suffix. */
export function formatRange(r: Range, suffix = ''): string {
  if (r.min !== undefined && r.min === r.max) return `${r.min}${suffix}`;
  return `${r.min !== undefined ? `${r.min}${suffix}` : ''}..${r.max !== undefined ? `${r.max}${suffix}` : ''}`;
}
