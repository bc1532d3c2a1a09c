/** Exit codes: 0 ok, 1 bug, 2 usage or invalid spec, 3 the workload or a provider failed, 130 interrupted. */
export const ExitCode = { Ok: 0, Bug: 1, Usage: 2, Failed: 3, Interrupted: 130 } as const;

/** An error the user must act on: printed as a message (and a next step), never as a stack. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.Usage,
    /** The next step, e.g. "run `driftless dev` first". */
    readonly hint?: string,
  ) {
    super(message);
  }
}
