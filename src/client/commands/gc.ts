import type { Command } from 'commander';
import type { ReconcileReport, ReconciledInstance } from '../../workflows/reconcile';
import { DEFAULT_RECONCILE_GRACE_MS } from '../../workflows/reconcile';
import { configFrom, output, progress } from '../context';
import { ExitCode } from '../errors';
import { table } from '../format';
import { durationOption } from './apply';

interface GcOptions {
  grace: number;
  dryRun?: boolean;
  timeout: number;
  json?: boolean;
}

/** The reason decide() gives an instance with the owner mark but no namespace or installation mark. */
const UNMARKED = /^not ours: it names no installation/;

/** The gc report in words: a summary, a table, what was not looked at and what is never touched. */
export function formatReport(r: ReconcileReport): string {
  const rows = (list: ReconciledInstance[], what: string) =>
    list.map((i) => [what, `${i.provider}/${i.zone}`, i.id, i.workflowId ?? '-', i.error ?? i.reason]);
  const lines = [
    `${r.seen} owned instance(s) seen; ${r.terminated.length} ${r.dryRun ? 'to terminate (dry run)' : 'terminated'}, ` +
      `${r.kept.length} kept, ${r.failed.length} failed`,
  ];
  const all = [
    ...rows(r.terminated, r.dryRun ? 'would terminate' : 'terminated'),
    ...rows(r.failed, 'failed'),
    ...rows(r.kept, 'kept'),
  ];
  if (all.length) lines.push(table([['ACTION', 'WHERE', 'INSTANCE', 'WORKFLOW', 'WHY'], ...all]));
  for (const e of r.providerErrors) lines.push(`provider not listed: ${e}`);
  const unmarked = r.kept.filter((i) => UNMARKED.test(i.reason)).length;
  if (unmarked > 0) {
    lines.push(
      `${unmarked} instance(s) carry the owner mark but no installation mark (launched before ` +
        'installations were marked, or by another tool using this owner): reconcile never ends them; ' +
        'end them with the provider once nothing uses them',
    );
  }
  return lines.join('\n');
}

export function configureGcCommand(program: Command): void {
  program
    .command('gc')
    .description(
      'reconcile now: terminate owned instances that no open workflow claims (the worker also does this on a schedule)',
    )
    .option(
      '--grace <duration>',
      'leave unclaimed instances younger than this',
      durationOption,
      DEFAULT_RECONCILE_GRACE_MS,
    )
    .option('--dry-run', 'report what would be terminated, terminate nothing')
    .option('--timeout <duration>', 'how long to wait for the report', durationOption, 300_000)
    .option('--json', 'print the report as one JSON document')
    .action(async (opts: GcOptions, cmd: Command) => {
      const config = await configFrom(cmd);
      const { connectClient } = await import('../services/temporal-client');
      const { reconcileNow } = await import('../../reconcile/schedule');
      const { reconcileFailure } = await import('../services/reconcile');
      const client = await connectClient(config);
      try {
        progress(`reconciling (grace ${opts.grace / 1000}s${opts.dryRun ? ', dry run' : ''})`);
        const taskQueue = config.temporal.taskQueue;
        const report = await reconcileNow(
          client,
          taskQueue,
          { graceMs: opts.grace, dryRun: opts.dryRun ?? false },
          opts.timeout,
        ).catch((err: unknown) => {
          throw reconcileFailure(err, taskQueue);
        });
        output(opts.json, report, () => formatReport(report));
        if (report.failed.length > 0) process.exitCode = ExitCode.Failed;
      } finally {
        await client.connection.close();
      }
    });
}
