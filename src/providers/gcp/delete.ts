/**
 * Deleting a Compute Engine instance so that it is really gone, or still being retried: an
 * instance that is still booting is waited for (GCE refuses its delete with resourceNotReady), and
 * a delete whose operation GCE no longer knows is checked on the instance itself.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { sleep } from '../../common/sleep';
import { TransientProviderError } from '../errors';
import type { InstanceRef } from '../types';
import { CALL_OPTIONS, type CallContext, type GcpApi } from './api';
import type { GcpProviderConfig } from './config';
import { NOT_FOUND_CODES, NOT_READY_CODES, classifyOperationError } from './errors';
import { OPERATION_GONE_CODES, errorIn, waitDone, type GceOperation } from './operations';

/** How long a delete waits for the instance to boot and for the delete to finish. */
export const DELETE_WAIT_MS = 60_000;

/** Statuses in which GCE refuses a delete until the instance is up. */
const BOOTING = new Set(['PROVISIONING', 'STAGING']);

export interface DeleteDeps {
  api: GcpApi;
  config: GcpProviderConfig;
  log: Logger;
}

/** The instance's status, or undefined when it is gone. */
async function statusOf(deps: DeleteDeps, ref: InstanceRef, ctx: CallContext): Promise<string | undefined> {
  try {
    const [inst] = await deps.api.call(ctx, 'instances.get', () =>
      deps.api.instances.get(
        { project: deps.config.project, zone: ref.zone, instance: ref.id },
        CALL_OPTIONS,
      ),
    );
    return inst.status ?? '';
  } catch (err) {
    if (errorIn(err, NOT_FOUND_CODES)) return undefined;
    throw err;
  }
}

/**
 * Waits, with backoff, while the instance is PROVISIONING or STAGING. Past `until` the wait is a
 * transient failure: the instance is still there and must be deleted later, never given up on.
 */
async function untilDeletable(
  deps: DeleteDeps,
  ref: InstanceRef,
  ctx: CallContext,
  until: number,
): Promise<void> {
  const { retryDelay, maxRetryDelay } = deps.config;
  for (let n = 0; ; n++) {
    const status = await statusOf(deps, ref, ctx);
    if (status === undefined || !BOOTING.has(status)) return;
    if (Date.now() >= until) {
      throw new TransientProviderError(
        `instance ${ref.id} is still ${status}; Compute Engine deletes it only once it has booted`,
        ctx.location,
        'resourceNotReady',
      );
    }
    deps.log.info({ instance: ref.id, zone: ref.zone, status }, 'instance still booting; delete waits');
    try {
      await sleep(Math.min(maxRetryDelay, retryDelay * 2 ** n), ctx.signal);
    } catch {
      throw new TransientProviderError('Compute Engine call cancelled', ctx.location, 'Cancelled');
    }
  }
}

/**
 * Deletes the instance; one that is already gone is success. Resends of one delete carry the same
 * requestId; a fresh one only when the earlier delete's operation is gone from GCE and the
 * instance is still there. A delete still running after the wait is left to GCE (it finishes on
 * its own; reconcile sweeps what is left).
 */
export async function deleteGceInstance(deps: DeleteDeps, ref: InstanceRef, ctx: CallContext): Promise<void> {
  const { api, config, log } = deps;
  const until = Date.now() + Math.min(config.operationTimeout, DELETE_WAIT_MS);
  let requestId = randomUUID();
  await api.retrying(ctx, 'delete', async () => {
    for (;;) {
      let op: GceOperation;
      try {
        const [lro] = await api.once(ctx, () =>
          api.instances.delete(
            { project: config.project, zone: ref.zone, instance: ref.id, requestId },
            CALL_OPTIONS,
          ),
        );
        op = lro.latestResponse as GceOperation;
      } catch (err) {
        if (errorIn(err, NOT_FOUND_CODES)) return;
        if (!errorIn(err, NOT_READY_CODES)) throw err;
        // Still booting: GCE refuses the delete until then; wait, without spending tries.
        await untilDeletable(deps, ref, ctx, until);
        continue;
      }
      log.info({ instance: ref.id, zone: ref.zone }, 'instance deleting');
      let done: GceOperation;
      try {
        done = await waitDone(api, config, log, op, ctx, Math.max(1, until - Date.now()));
      } catch (err) {
        // Accepted and still going: GCE finishes a delete on its own, and reconcile sweeps leftovers.
        if (errorIn(err, new Set(['OperationTimeout']))) return;
        if (!errorIn(err, OPERATION_GONE_CODES)) throw err;
        if ((await statusOf(deps, ref, ctx)) === undefined) return;
        // The instance outlived a delete GCE no longer remembers: a new delete, under a new id.
        requestId = randomUUID();
        throw err;
      }
      const failed = classifyOperationError(done, ctx.location);
      if (failed && !errorIn(failed, NOT_FOUND_CODES)) throw failed;
      return;
    }
  });
}
