/**
 * @module commands/lease/timetolive
 * `etcdctl lease timetolive <leaseID> [options]`: the LeaseTimeToLive RPC
 * (lease_command.go, leaseTimeToLiveCommandFunc). An unknown or expired lease is not
 * an error: the server answers TTL=-1 and etcdctl prints `lease <id> already expired`.
 * RPC errors exit 2. The call has no deadline (etcdctl passes context.TODO()).
 */

import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs, ExitBadConnection } from '../../cli/exit-codes.js';
import { leaseIdFromArg, rpcOrExit } from './lease-id.js';

/** `lease timetolive <leaseID> [--keys]`: Printer.timeToLive; exit 128 for bad arguments, 2 for RPC errors. */
export const leaseTimeToLiveCommand: CommandSpec = {
  use: 'timetolive <leaseID> [options]',
  short: 'Get lease information',
  flags: [{ name: 'keys', type: 'bool', default: false, usage: 'Get keys attached to this lease' }],
  async run(ctx) {
    if (ctx.args.length !== 1) throw new CliError(ExitBadArgs, 'lease timetolive command needs lease ID as argument');
    const keys = ctx.flags.bool('keys');
    // etcdctl builds the client (and the printer) before it parses the ID.
    const display = ctx.display();
    const client = await ctx.client();
    const id = leaseIdFromArg(ctx.args[0]!);
    const resp = await rpcOrExit(ExitBadConnection, () => client.leaseTimeToLive({ ID: id, keys }, { timeoutMs: 0 }));
    display.timeToLive(resp, keys);
  },
};
