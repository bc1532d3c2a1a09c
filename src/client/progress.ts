import { formatDuration } from '../spec/units';
import type { WorkloadView } from './services/workloads';

/** Where progress goes and how it looks; tests give their own. */
export interface ProgressOutput {
  write(text: string): void;
  /** A terminal: one spinner line rewritten in place; otherwise one line per change. */
  tty: boolean;
  /** @default Date.now */
  now?: () => number;
  /** How often the spinner turns, in ms; 0 turns it only when something changes. @default 100 */
  spinEveryMs?: number;
}

/** The stderr of this process, as {@link ProgressOutput}. */
export function stderrOutput(): ProgressOutput {
  return { write: (t) => process.stderr.write(t), tty: !!process.stderr.isTTY };
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** Where the view says the workload is: "local/lab-a", "aws/us-east-1/use1-az1". */
function where(v: WorkloadView): string | undefined {
  if (!v.provider) return undefined;
  return [v.provider, v.pool ?? v.region, v.pool ? undefined : v.zone].filter(Boolean).join('/');
}

/** What changes the progress shows: the phase, the instance, and the workflow's own state. */
const changeKey = (v: WorkloadView) =>
  [v.phase, v.workflowStatus, v.instanceId ?? '', where(v) ?? ''].join('|');

/** The text of one progress line, without the elapsed time: "web PROVISIONING on local/lab-a: ..." */
export function progressText(v: WorkloadView): string {
  const at = where(v);
  const closed = v.workflowStatus !== 'RUNNING' ? ` (workflow ${v.workflowStatus})` : '';
  const last = v.status?.timeline.at(-1)?.message;
  return `${v.name} ${v.phase}${at && v.instanceId ? ` on ${at}` : ''}${closed}${last ? `: ${last}` : ''}`;
}

/**
 * Shows a workload's phase changes while something waits for it (`apply --wait`): on a terminal
 * a spinner line rewritten in place, elsewhere one line per change (for logs of CI jobs).
 */
export class PhaseProgress {
  private readonly now: () => number;
  private readonly started: number;
  private lastKey?: string;
  private line = '';
  private frame = 0;
  private timer?: NodeJS.Timeout;

  constructor(private readonly out: ProgressOutput) {
    this.now = out.now ?? Date.now;
    this.started = this.now();
    const every = out.spinEveryMs ?? 100;
    if (out.tty && every > 0) {
      this.timer = setInterval(() => this.draw(), every);
      this.timer.unref();
    }
  }

  private elapsed(): string {
    return formatDuration(this.now() - this.started);
  }

  private draw(): void {
    if (!this.line) return;
    this.frame = (this.frame + 1) % FRAMES.length;
    const columns = process.stderr.columns || 100;
    const text = `${FRAMES[this.frame]} ${this.line} (${this.elapsed()})`;
    // \r and "erase line": the spinner stays one line; cut to the width so it never wraps.
    this.out.write(`\r\x1b[2K${text.length >= columns ? text.slice(0, columns - 2) + '…' : text}`);
  }

  /** A fresh view of the workload: shown when its phase, place or instance changed. */
  update(v: WorkloadView): void {
    const key = changeKey(v);
    if (this.out.tty) {
      this.line = progressText(v);
      if (key !== this.lastKey) this.draw();
    } else if (key !== this.lastKey) {
      this.out.write(`[${this.elapsed()}] ${progressText(v)}\n`);
    }
    this.lastKey = key;
  }

  /** Stops the spinner and clears its line, so the result that follows starts on a clean line. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.out.tty && this.line) this.out.write('\r\x1b[2K');
    this.line = '';
  }
}
