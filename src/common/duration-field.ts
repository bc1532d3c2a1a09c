/** The zod field of every duration a user writes: in a spec, the config file, a provider's settings. */
import { z } from 'zod';
import { parseDuration } from '../spec/units';

/** A zod error message that says what was expected and what was found: `expected X, got Y`. */
export const expected =
  (what: string) =>
  (issue: { input?: unknown }): string =>
    `expected ${what}, got ${describeValue(issue.input)}`;

/** How a value a user wrote reads in an error message: `"soon"`, `-5`, `a list`, `nothing`. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return v.length === 0 ? 'an empty list' : 'a list';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return String(v);
}

export interface DurationFieldOptions {
  /** Named in the error, as in `expected a duration such as "30s"`. @default '"30s"' */
  example?: string;
  /** The shortest duration accepted, in milliseconds. @default 0 */
  minMs?: number;
  /** The longest duration accepted, in milliseconds. @default no limit */
  maxMs?: number;
}

/**
 * A duration such as "30s", "5m", "1h30m" or a number of seconds; parsed to milliseconds. Errors
 * say what was expected and what was found.
 */
export function durationField({ example = '"30s"', minMs = 0, maxMs = Infinity }: DurationFieldOptions = {}) {
  const notADuration = (v: unknown) => `expected a duration such as ${example}, got ${describeValue(v)}`;
  return z
    .union([z.string(), z.number()], { error: (issue) => notADuration(issue.input) })
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined || ms < minMs || ms > maxMs) {
        ctx.addIssue({
          code: 'custom',
          message:
            ms === undefined
              ? notADuration(v)
              : ms < minMs
                ? `expected a duration of at least ${minMs / 1000}s, got ${describeValue(v)}`
                : `expected a duration of at most ${maxMs / 1000}s, got ${describeValue(v)}`,
        });
        return z.NEVER;
      }
      return ms;
    });
}
