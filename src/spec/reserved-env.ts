/**
 * The workload's environment names that driftless sets itself, which a spec's env cannot set:
 * the GPUs the instance was given, driftless's own variables and, for a workload with an HTTP
 * health check, the port the agent gives it. The spec's validation rejects them; the agent drops
 * them from a spec that carries them anyway (one from an older history).
 */

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
