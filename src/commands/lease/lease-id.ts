/**
 * @module commands/lease/lease-id
 * Helpers shared by the `lease` subcommands: parsing a lease ID argument (hex, as
 * etcdctl's leaseFromArgs in etcdctl/ctlv3/command/lease_command.go) and turning RPC
 * failures into etcdctl's `Error:` lines and exit codes.
 */

import { CliError, ExitBadArgs } from '../../cli/exit-codes.js';
import { GoParseError, parseGoInt } from '../../cli/go-format.js';
import { EtcdError } from '../../client/errors.js';

/**
 * Parses a lease ID given in hexadecimal without prefix (Go `strconv.ParseInt(arg, 16, 64)`).
 * @returns the signed 64-bit lease ID
 * @throws CliError(ExitBadArgs, `bad lease ID arg (<Go error>), expecting ID in Hex`)
 */
export function leaseIdFromArg(arg: string): bigint {
  try {
    return parseGoInt(arg, 16);
  } catch (e) {
    if (e instanceof GoParseError) throw new CliError(ExitBadArgs, `bad lease ID arg (${e.message}), expecting ID in Hex`);
    throw e;
  }
}

/**
 * Runs an RPC and maps an EtcdError to CliError(code, wrap(message)); other errors pass.
 * @param code the exit code etcdctl uses for this command's RPC failures
 * @param wrap builds the text after `Error: ` from the client error's message
 */
export async function rpcOrExit<T>(code: number, call: () => Promise<T>, wrap: (msg: string) => string = (m) => m): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (e instanceof EtcdError) throw new CliError(code, wrap(e.message), e.reason);
    throw e;
  }
}
