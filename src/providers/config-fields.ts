/**
 * Settings every cloud provider's config shares: how its API calls are retried and bounded, and
 * how the agent gets onto an instance. Spread into each provider's strictObject.
 */
import { z } from 'zod';
import { durationField } from '../common/duration-field';
import { DEFAULT_AGENT_COMMAND } from './boot-script';

/** A duration such as "30s" or "200ms", or a number of seconds; parsed to milliseconds. */
export const duration = durationField();

/** How a provider's API calls are tried: the fields of {@link CallPolicy}. */
export const callPolicyFields = {
  /** Tries per API call for throttling, 5xx, network errors and missed deadlines. @default 4 */
  maxAttempts: z.number().int().min(1).max(10).default(4),
  /** Backoff before the second try; doubled each try (with jitter). @default "200ms" */
  retryDelay: duration.default(200),
  /** Longest backoff between tries. @default "2s" */
  maxRetryDelay: duration.default(2000),
  /** Deadline of one API call; a call past it is a transient failure of its location. @default "30s" */
  callTimeout: duration.default(30_000),
};

/** The resolved retry and deadline settings (milliseconds). */
export interface CallPolicy {
  maxAttempts: number;
  retryDelay: number;
  maxRetryDelay: number;
  callTimeout: number;
}

/** How the agent is installed and started by the boot script. */
export const agentFields = {
  /**
   * Shell line run on the instance before the agent starts; "" when the image already has it.
   * Required: driftless is not published on npm (and the npm package named "driftless" is
   * someone else's), so there is no safe default.
   */
  agentInstall: z.string({
    error:
      'required: how an instance gets the driftless agent: "" when the image has it, or a shell line ' +
      'such as "npm install -g https://example.com/driftless-0.1.0.tgz" (`npm pack` makes the tarball)',
  }),
  /** Shell line that starts the agent on the instance. @default {@link DEFAULT_AGENT_COMMAND} */
  agentCommand: z.string().min(1).default(DEFAULT_AGENT_COMMAND),
};

/** The cross-field rule of {@link callPolicyFields}, for a provider config's superRefine. */
export function checkCallPolicy(c: CallPolicy, ctx: z.RefinementCtx): void {
  if (c.maxRetryDelay < c.retryDelay) {
    ctx.addIssue({ code: 'custom', path: ['maxRetryDelay'], message: 'must not be shorter than retryDelay' });
  }
}
