/**
 * The workload's environment names that driftless sets itself, which a spec's env cannot set:
 * the GPUs the instance was given, driftless's own variables and, for a workload with an HTTP
 * health check, the port the agent gives it. The spec's validation rejects them; the agent drops
 * them from a spec that carries them anyway (one from an older history).
 */
import { z } from 'zod';
import { expected } from '../common/duration-field';

/**
 * Why the spec's env cannot set `name`, or undefined when it can. `http`: the workload has an
 * HTTP health check, so the agent sets PORT (health.http.port or a free port); without one a
 * workload may set PORT itself.
 */
export function reservedEnvProblem(name: string, http: boolean): string | undefined {
  if (name === 'CUDA_VISIBLE_DEVICES')
    return 'set by driftless from the GPUs the instance was given; a workload cannot choose its GPUs';
  if (name.startsWith('DRIFTLESS_'))
    return 'DRIFTLESS_* names are set by driftless (DRIFTLESS_INSTANCE_ID, DRIFTLESS_WORKLOAD); choose another name';
  if (name === 'PORT' && http)
    return 'set by driftless for a workload with an HTTP health check (health.http.port chooses the port)';
  return undefined;
}

/** Each name of `env` that the spec cannot set, with why (see {@link reservedEnvProblem}). */
export function reservedEnvProblems(env: Record<string, unknown>, http: boolean): Array<[string, string]> {
  return Object.keys(env).flatMap((name): Array<[string, string]> => {
    const problem = reservedEnvProblem(name, http);
    return problem ? [[name, problem]] : [];
  });
}

/** The spec's `env` field: names to strings (numbers and booleans are kept as written), none of them a name driftless sets. */
export function specEnv() {
  return z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean()], { error: expected('a string') }), {
      error: expected('a map of names to strings'),
    })
    .superRefine((e, ctx) => {
      for (const [name, message] of reservedEnvProblems(e, false))
        ctx.addIssue({ code: 'custom', path: [name], message });
    })
    .transform((e) => Object.fromEntries(Object.entries(e).map(([k, v]) => [k, String(v)])));
}
