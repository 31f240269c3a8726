/**
 * @module commands/lease/revoke
 * `etcdctl lease revoke <leaseID>`: the LeaseRevoke RPC (lease_command.go,
 * leaseRevokeCommandFunc). Revoking deletes every key attached to the lease.
 */

import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs, ExitError } from '../../cli/exit-codes.js';
import { leaseIdFromArg, rpcOrExit } from './lease-id.js';

/** `lease revoke <leaseID>`: Printer.revoke; exit 128 for bad arguments, 1 for RPC errors. */
export const leaseRevokeCommand: CommandSpec = {
  use: 'revoke <leaseID>',
  short: 'Revokes leases',
  async run(ctx) {
    if (ctx.args.length !== 1) throw new CliError(ExitBadArgs, 'lease revoke command needs 1 argument');
    const id = leaseIdFromArg(ctx.args[0]!);
    const display = ctx.display();
    const client = await ctx.client();
    const resp = await rpcOrExit(ExitError, () => client.leaseRevoke({ ID: id }), (m) => `failed to revoke lease (${m})`);
    display.revoke(id, resp);
  },
};
