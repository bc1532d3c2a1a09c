import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';

/**
 * With RECORD_HISTORIES=<dir>, the histories of the workflows the run closed are saved there
 * (one JSON file per workflow id) before the server goes: `npm run record-histories` refreshes
 * test/fixtures/histories, which test/replay replays against the current workflow code.
 */
async function recordHistories(address: string, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection, namespace: 'default' });
    const seen = new Set<string>();
    for await (const wf of client.workflow.list({ query: 'ExecutionStatus != "Running"' })) {
      if (!['workloadWorkflow', 'reconcileWorkflow', 'watcherWorkflow'].includes(wf.type)) continue;
      const file = `${wf.type}-${wf.workflowId}-${wf.runId.slice(-6)}.json`.replace(/[^A-Za-z0-9._-]/g, '_');
      if (seen.has(file)) continue;
      seen.add(file);
      const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      writeFileSync(join(dir, file), JSON.stringify({ workflowId: wf.workflowId, history }));
    }
    process.stderr.write(`recorded ${seen.size} histories in ${dir}\n`);
  } finally {
    await connection.close();
  }
}

export default async function globalTeardown(): Promise<void> {
  const t = globalThis.__driftlessDevServer;
  if (!t) return;
  if (process.env.RECORD_HISTORIES) await recordHistories(t.server.address, process.env.RECORD_HISTORIES);
  await t.server.stop();
  rmSync(t.record, { force: true });
}
