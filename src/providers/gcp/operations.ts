/** Waiting on Compute Engine's long-running operations, and the error tests the provider shares. */
import type { protos } from '@google-cloud/compute';
import type { Logger } from 'pino';
import { sleep } from '../../common/sleep';
import { CapacityError, ProviderError, ProviderUnavailableError, TransientProviderError } from '../errors';
import { CALL_OPTIONS, type CallContext, type GcpApi } from './api';
import type { GcpProviderConfig } from './config';
import { NOT_FOUND_CODES } from './errors';

export type GceOperation = protos.google.cloud.compute.v1.IOperation;

/** ZoneOperations.wait holds a call open for up to two minutes before answering. */
const WAIT_HOLD_MS = 120_000;

/**
 * The code of a wait that found its operation gone: GCE keeps operations for a while, not forever,
 * so a poll after a long pause (a lost answer, a worker restart) can be a 404. What the operation
 * did is then read from the resource itself.
 */
export const OPERATION_GONE = 'OperationGone';
export const OPERATION_GONE_CODES: ReadonlySet<string> = new Set([OPERATION_GONE]);

/** Whether `err` is a provider error with one of `codes`. */
export function errorIn(err: unknown, codes: ReadonlySet<string>): boolean {
  return err instanceof ProviderError && err.code !== undefined && codes.has(err.code);
}

/**
 * A call that cleans up (a delete, the listing a compensation reads): Compute Engine not
 * answering is transient for it, never "unavailable", which the workflow treats as final for the
 * call and uses to block the provider. An unanswered cleanup must be tried again, or a billed
 * machine is given up on.
 */
export async function cleanupCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof ProviderUnavailableError)) throw err;
    throw new TransientProviderError(`${err.message}; ${what}`, err.location, err.code);
  }
}

/**
 * Polls an operation with ZoneOperations.wait until it is DONE. wait may answer before DONE
 * (it holds a call for up to two minutes, and may answer at once); a failed poll is retried with
 * backoff and only `maxAttempts` failed polls in a row fail the wait. An operation still running
 * after `timeoutMs` is a failure of its zone; one GCE no longer knows fails with
 * {@link OPERATION_GONE} (transient), for the caller to look at the resource instead.
 */
export async function waitDone(
  api: GcpApi,
  config: GcpProviderConfig,
  log: Logger,
  op: GceOperation,
  ctx: CallContext,
  timeoutMs: number,
): Promise<GceOperation> {
  const { project, maxAttempts, retryDelay, maxRetryDelay, callTimeout } = config;
  const zone = ctx.location.zone!;
  const until = Date.now() + timeoutMs;
  let current = op;
  let failures = 0;
  while (current.status !== 'DONE') {
    if (Date.now() >= until) {
      throw new CapacityError(
        `operation ${current.name} (${current.operationType}) in ${zone} not done after ${timeoutMs} ms`,
        ctx.location,
        'OperationTimeout',
      );
    }
    try {
      [current] = await api.once(
        ctx,
        () => api.zoneOperations.wait({ project, zone, operation: current.name! }, CALL_OPTIONS),
        callTimeout + WAIT_HOLD_MS,
      );
      failures = 0;
    } catch (err) {
      if (errorIn(err, NOT_FOUND_CODES)) {
        throw new TransientProviderError(
          `operation ${current.name} (${current.operationType}) in ${zone} is no longer known to Compute Engine`,
          ctx.location,
          OPERATION_GONE,
        );
      }
      if (!(err instanceof ProviderError) || !err.retryable || err.code === 'Cancelled') throw err;
      if (++failures >= maxAttempts) throw err;
      log.warn(
        { operation: current.name, zone, code: err.code, failures },
        'operation poll failed; polling again',
      );
      try {
        await sleep(Math.min(maxRetryDelay, retryDelay * 2 ** (failures - 1)), ctx.signal);
      } catch {
        throw new TransientProviderError('Compute Engine call cancelled', ctx.location, 'Cancelled');
      }
    }
  }
  return current;
}

/**
 * The types of the zone's operations that targeted the instance, every page of them: GCE lists
 * operations by name (oldest first), so the one that ended an instance is on the last page.
 */
export async function operationTypesFor(
  api: GcpApi,
  project: string,
  zone: string,
  name: string,
  ctx: CallContext,
): Promise<string[]> {
  return api.call(ctx, 'zoneOperations.list', async () => {
    const types: string[] = [];
    const pages = api.zoneOperations.listAsync(
      { project, zone, filter: `targetLink eq ".*/instances/${name}"`, maxResults: 100 },
      CALL_OPTIONS,
    );
    for await (const o of pages) if (o.operationType) types.push(o.operationType);
    return types;
  });
}
