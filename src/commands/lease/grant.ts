/**
 * @module commands/lease/grant
 * `etcdctl lease grant <ttl>`: the LeaseGrant RPC (lease_command.go,
 * leaseGrantCommandFunc). The TTL is decimal seconds; the server may raise it to its
 * minimum and rejects more than 9e9 s (`etcdserver: too large lease TTL`).
 */

import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs, ExitError } from '../../cli/exit-codes.js';
import { GoParseError, parseGoInt } from '../../cli/go-format.js';
import { rpcOrExit } from './lease-id.js';

/** `lease grant <ttl>`: prints the new lease (Printer.grant); exit 128 for bad arguments, 1 for RPC errors. */
export const leaseGrantCommand: CommandSpec = {
  use: 'grant <ttl>',
  short: 'Creates leases',
  async run(ctx) {
    if (ctx.args.length !== 1) throw new CliError(ExitBadArgs, 'lease grant command needs TTL argument');
    let ttl: bigint;
    try {
      ttl = parseGoInt(ctx.args[0]!, 10);
    } catch (e) {
      if (e instanceof GoParseError) throw new CliError(ExitBadArgs, `bad TTL (${e.message})`);
      throw e;
    }
    const display = ctx.display();
    const client = await ctx.client();
    // commandCtx: the call is bounded by --command-timeout (the client's default).
    const resp = await rpcOrExit(ExitError, () => client.leaseGrant({ TTL: ttl }), (m) => `failed to grant lease (${m})`);
    display.grant(resp);
  },
};
