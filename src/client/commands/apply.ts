import type { Command } from 'commander';
import type { Config } from '../../config/config';
import { createLogger } from '../../logger';
import { loadSpecFile } from '../../spec/load';
import type { WorkloadSpec } from '../../spec/workload-spec';
import { parseDuration } from '../../spec/units';
import { configFrom, notice, output, progress, withWorkloads } from '../context';
import { CliError, ExitCode } from '../errors';
import { formatPlan, formatProblems, formatStatus } from '../format';
import { PhaseProgress, stderrOutput } from '../progress';
import { knownNames, unknownNames, unmatchedZones } from '../services/known-names';
import { allOffers } from '../services/offers';
import { planFor } from '../services/plan';
import type { WorkloadView } from '../services/workloads';

export function durationOption(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new CliError(`expected a duration such as "90s" or "5m", got "${value}"`);
  return ms;
}

/**
 * GPU models and providers the installation does not know are typos: exit 2 with the nearest
 * names, before anything starts (see services/known-names.ts). Zones that match nothing warn.
 */
async function checkNames(file: string, spec: WorkloadSpec, config: Config): Promise<void> {
  const { offers, providerErrors } = await allOffers(config, createLogger({}, 'warn')).catch((err: Error) => {
    throw new CliError(err.message, ExitCode.Usage);
  });
  const unknown = unknownNames(spec, knownNames(offers), providerErrors.length === 0);
  if (unknown.length) throw new CliError(`invalid spec:\n${formatProblems(file, unknown)}`, ExitCode.Usage);
  for (const w of unmatchedZones(spec, offers)) notice(`warning: ${w}`);
}

export function configureApplyCommand(program: Command): void {
  program
    .command('apply')
    .description('start the workload a spec describes (one workflow per name)')
    .argument('<file>', 'spec file (YAML or JSON); - reads it from stdin')
    .option('--wait', 'wait until a service runs or a job finishes')
    .option('--timeout <duration>', 'how long --wait waits', durationOption, 600_000)
    .option('--json', 'print one JSON document')
    .action(async (file: string, opts: { wait?: boolean; timeout: number; json?: boolean }, cmd: Command) => {
      const result = await loadSpecFile(file);
      if (!result.ok) {
        throw new CliError(`invalid spec:\n${formatProblems(file, result.problems)}`, ExitCode.Usage);
      }
      const spec = result.spec;
      const config = await configFrom(cmd);
      await checkNames(file, spec, config);
      const plan = await planFor(spec, config);
      notice(formatPlan(spec, plan));
      await withWorkloads(cmd, async (svc) => {
        const applied = { ...(await svc.apply(spec)), plan };
        progress(
          applied.outcome === 'started'
            ? `applied ${spec.kind} ${spec.name}: workflow ${applied.workflowId}`
            : applied.outcome === 'updated'
              ? `updated ${spec.name}: now on ${applied.update?.instanceId} at ${applied.update?.location}`
              : `${spec.name} is already running with this spec: nothing to do`,
        );
        if (!opts.wait) {
          output(opts.json, applied, () => `${spec.name} ${applied.outcome}`);
          return;
        }
        const started = Date.now();
        // Phase changes as they happen, on stderr: a spinner on a terminal, else a line each.
        const shown = new PhaseProgress(stderrOutput());
        const onView = (v: WorkloadView) => shown.update(v);
        let view: WorkloadView;
        try {
          view =
            spec.kind === 'service'
              ? await svc.waitPhase(spec.name, ['RUNNING', 'FAILED', 'STOPPED'], opts.timeout, onView)
              : await svc.waitClosed(spec.name, opts.timeout, onView);
          if (view.phase !== 'RUNNING' && view.workflowStatus === 'RUNNING') {
            // Failing or stopping: the workflow ends its instances before it closes; show the
            // closed workflow (and its failure) once it has, within what is left of the timeout.
            const left = Math.max(1000, opts.timeout - (Date.now() - started));
            const before = view;
            view = await svc.waitClosed(spec.name, left, onView).catch(() => before);
          }
        } finally {
          shown.stop();
        }
        output(opts.json, view, () => formatStatus(view));
        const ok = spec.kind === 'service' ? view.phase === 'RUNNING' : view.workflowStatus === 'COMPLETED';
        if (!ok) process.exitCode = ExitCode.Failed;
      });
    });
}
