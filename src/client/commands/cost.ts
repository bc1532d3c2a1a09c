import type { Command } from 'commander';
import { formatUsd } from '../../common/cost';
import { configFrom, output } from '../context';
import { table } from '../format';
import { durationOption } from './apply';

export function configureCostCommand(program: Command): void {
  program
    .command('cost')
    .description(
      "what workloads' instances have cost (price x time from launch to termination), per workload and in total",
    )
    .argument('[name]', 'one workload (every run of that name); default: all')
    .option(
      '--since <duration>',
      'only workloads running at some time in this window, e.g. 7d (their whole cost)',
      durationOption,
    )
    .option('--json', 'print one JSON document')
    .action(async (name: string | undefined, opts: { since?: number; json?: boolean }, cmd: Command) => {
      const config = await configFrom(cmd);
      const { connectClient } = await import('../services/temporal-client');
      const { costReport } = await import('../services/cost');
      const client = await connectClient(config);
      try {
        const now = Date.now();
        const report = await costReport(client, {
          name,
          nowMs: now,
          ...(opts.since !== undefined ? { sinceMs: now - opts.since } : {}),
        });
        output(opts.json, report, () => {
          if (report.workloads.length === 0) return name ? `no workload named ${name}` : 'no workloads';
          const rows = report.workloads.map((r) => [
            r.name,
            r.workflowStatus,
            r.startedAt.slice(0, 16).replace('T', ' '),
            r.ratePerHour ? `${formatUsd(r.ratePerHour)}/h` : '-',
            r.costUsd !== undefined ? formatUsd(r.costUsd) : 'unknown',
            r.budgetUsd !== undefined ? formatUsd(r.budgetUsd) : '-',
          ]);
          const unknown = report.unknown ? ` (${report.unknown} without a recorded cost)` : '';
          return (
            table([['NAME', 'WORKFLOW', 'STARTED (UTC)', 'NOW', 'COST', 'BUDGET'], ...rows]) +
            `\ntotal ${formatUsd(report.totalUsd)}${unknown}`
          );
        });
      } finally {
        await client.connection.close();
      }
    });
}
