import { sleep } from '../common/sleep';
import { formatDuration } from '../spec/units';
import { CliError } from './errors';
import { formatStatus } from './format';
import type { WorkloadView } from './services/workloads';

/** Where `status --watch` writes; tests give their own. */
export interface WatchOutput {
  write(text: string): void;
  /** A terminal: the block is redrawn in place; otherwise a new block per change. */
  tty: boolean;
}

export interface WatchOptions {
  /** How often to look. @default 1000 */
  everyMs?: number;
  /** Ends the watch (Ctrl-C). */
  signal?: AbortSignal;
}

/**
 * Shows `poll()`'s view until the workflow ends or `signal` aborts: on a terminal the block is
 * redrawn in place (as watch(1) does), elsewhere one block per change, separated by a blank
 * line. A failed poll (a restarting server) is retried; an error the user must act on is not.
 * Returns the last view, or undefined when aborted before the first.
 */
export async function watchStatus(
  poll: () => Promise<WorkloadView>,
  out: WatchOutput,
  opts: WatchOptions = {},
): Promise<WorkloadView | undefined> {
  const everyMs = opts.everyMs ?? 1000;
  let last: WorkloadView | undefined;
  let shown: string | undefined;
  while (!opts.signal?.aborted) {
    let view: WorkloadView | undefined;
    try {
      view = await poll();
    } catch (err) {
      if (err instanceof CliError) throw err;
    }
    if (view) {
      last = view;
      const text = formatStatus(view);
      if (text !== shown) {
        if (out.tty) {
          // Home and clear the screen, then the block with a line saying what this is.
          out.write(`\x1b[H\x1b[2J${text}\n\n(every ${formatDuration(everyMs)}; Ctrl-C stops watching)\n`);
        } else {
          out.write(`${shown === undefined ? '' : '\n'}${text}\n`);
        }
        shown = text;
      }
      if (view.workflowStatus !== 'RUNNING') break;
    }
    // An abort ends the wait at once; the loop then ends.
    await sleep(everyMs, opts.signal).catch(() => undefined);
  }
  return last;
}
