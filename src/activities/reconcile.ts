import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Logger } from '../logger';
import type { Installation, OwnedInstance, Provider } from '../providers/types';
import type { Claim } from '../reconcile/decide';
import { statusQuery } from '../workflows/messages';

export interface ReconcileDeps {
  providers: Map<string, Provider>;
  owner: string;
  /** The namespace and id this installation marks its instances with; only those are reconciled. */
  installation: Installation;
  /**
   * How long one provider may take to list what it owns; one that takes longer is reported as a
   * provider error and its instances are left alone this time. @default 120000
   */
  listTimeoutMs?: number;
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
    /**
     * Every instance carrying this installation's owner mark, on every provider, and which
     * installation is asking (reconcile touches only instances of its namespace and id). Each
     * provider has a deadline of its own: one that fails or hangs is reported, and the others are
     * listed all the same. Heartbeats while any is still listing, naming those that are done.
     */
    async listOwnedEverywhere(): Promise<{
      instances: OwnedInstance[];
      providerErrors: string[];
      installation: Installation;
    }> {
      const ctx = Context.current();
      const instances: OwnedInstance[] = [];
      const providerErrors: string[] = [];
      const done: string[] = [];
      const limitMs = deps.listTimeoutMs ?? 120_000;
      const beat = setInterval(() => ctx.heartbeat({ done }), 1000);
      try {
        await Promise.all(
          [...deps.providers.values()].map(async (p) => {
            try {
              instances.push(...(await withTimeout(p.listOwned(deps.owner), limitMs, 'listing')));
            } catch (err) {
              providerErrors.push(`${p.name}: ${(err as Error).message}`);
            }
            done.push(p.name);
            ctx.heartbeat({ done });
          }),
        );
      } finally {
        clearInterval(beat);
      }
      log.info({ owned: instances.length, providerErrors }, 'listed owned instances');
      return { instances, providerErrors, installation: deps.installation };
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
        // The deadline goes with the call: a query nobody answers ends at it instead of being
        // retried by the client in the background after this activity has moved on.
        const ms = deps.queryTimeoutMs ?? 10_000;
        const askedAt = Date.now();
        try {
          const s = await withTimeout(
            client.connection.withDeadline(askedAt + ms, () => handle.query(statusQuery)),
            ms + 1000,
            id,
          );
          claims[id] = {
            kind: 'open',
            current: s.current?.instanceId,
            attempts: s.attempts,
            inflight: s.inflight,
            live: s.live,
            abandoned: s.abandoned,
          };
        } catch (err) {
          const e = err as Error;
          const why = e.cause instanceof Error ? `${e.message}: ${e.cause.message}` : e.message;
          const late = Date.now() - askedAt >= ms;
          claims[id] = { kind: 'unknown', reason: late ? `no answer within ${ms / 1000}s (${why})` : why };
        }
      }
      return claims;
    },
  };
}

export type ReconcileActivities = ReturnType<typeof createReconcileActivities>;
