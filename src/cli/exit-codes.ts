/**
 * @module cli/exit-codes
 * Process exit codes, identical to etcdctl's (etcdctl/ctlv3/command/error.go in 3.4,
 * pkg/cobrautl/error.go in 3.5+). Scripts branch on these numbers.
 */

export const ExitSuccess = 0;
export const ExitError = 1;
export const ExitBadConnection = 2;
/** Malformed txn or watch input. */
export const ExitInvalidInput = 3;
/** A valid flag with an unsupported value (bad output format, sort target...). */
export const ExitBadFeature = 4;
export const ExitInterrupted = 5;
export const ExitIO = 6;
export const ExitBadArgs = 128;

/**
 * An error that ends the command: `cli/main` prints `Error: <message>` on stderr
 * (as etcdctl's ExitWithError does) and exits with `code`.
 */
export class CliError extends Error {
  /**
   * @param code process exit code (one of the Exit* constants)
   * @param message text printed after `Error: `
   * @param detail optional extra lines printed on stderr after the `Error:` line
   *   (used to explain connection failures without changing etcdctl's line)
   */
  constructor(
    readonly code: number,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/**
 * Ends the process quietly with `code`: nothing is printed (the command already
 * printed what it had to, like etcdctl's `os.Exit(1)` after `endpoint status`).
 */
export class SilentExit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
    this.name = 'SilentExit';
  }
}
