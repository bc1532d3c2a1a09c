import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Logger } from '../logger';
import type { OwnedInstance, Provider } from '../providers/types';
import type { Claim } from '../reconcile/decide';
import { statusQuery } from '../workflows/messages';

export interface ReconcileDeps {
  providers: Map<string, Provider>;
  owner: string;
  logger: Logger;
  /** A Temporal client, made on first use (the worker's NativeConnection cannot query). */
  client: () => Promise<Client>;
  /** How long a workflow gets to answer its status query. @default 10000 */
  queryTimeoutMs?: number;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000}s`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Activities of the reconcile workflow: what is owned, and who claims it. */
export function createReconcileActivities(deps: ReconcileDeps) {
  const log = deps.logger.child({ component: 'reconcile' });
  return {
    /** Every instance this installation owns, on every provider; a provider that fails is reported. */
    async listOwnedEverywhere(): Promise<{ instances: OwnedInstance[]; providerErrors: string[] }> {
      const instances: OwnedInstance[] = [];
      const providerErrors: string[] = [];
      await Promise.all(
        [...deps.providers.values()].map(async (p) => {
          try {
            instances.push(...(await p.listOwned(deps.owner)));
          } catch (err) {
            providerErrors.push(`${p.name}: ${(err as Error).message}`);
          }
        }),
      );
      log.info({ owned: instances.length, providerErrors }, 'listed owned instances');
      return { instances, providerErrors };
    },

    /** What each workflow says about the instances it uses. */
    async readClaims(workflowIds: string[]): Promise<Record<string, Claim>> {
      const client = await deps.client();
      const claims: Record<string, Claim> = {};
      for (const id of workflowIds) {
        Context.current().heartbeat(id);
        const handle = client.workflow.getHandle(id);
        try {
          const d = await handle.describe();
          if (d.status.name !== 'RUNNING') {
            claims[id] = { kind: 'closed', status: d.status.name };
            continue;
          }
        } catch (err) {
          claims[id] =
            err instanceof WorkflowNotFoundError
              ? { kind: 'closed', status: 'NOT_FOUND' }
              : { kind: 'unknown', reason: (err as Error).message };
          continue;
        }
        try {
          const s = await withTimeout(handle.query(statusQuery), deps.queryTimeoutMs ?? 10_000, id);
          claims[id] = {
            kind: 'open',
            current: s.current?.instanceId,
            attempts: s.attempts,
            inflight: s.inflight,
            abandoned: s.abandoned,
          };
        } catch (err) {
          claims[id] = { kind: 'unknown', reason: (err as Error).message };
        }
      }
      return claims;
    },
  };
}

export type ReconcileActivities = ReturnType<typeof createReconcileActivities>;
