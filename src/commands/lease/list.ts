/**
 * @module commands/lease/list
 * `etcdctl lease list`: the LeaseLeases RPC (lease_command.go, leaseListCommandFunc).
 * Extra arguments are ignored. RPC errors exit 2; the call has no deadline.
 */

import type { CommandSpec } from '../../cli/command.js';
import { ExitBadConnection } from '../../cli/exit-codes.js';
import { rpcOrExit } from './lease-id.js';

/** `lease list`: Printer.leases (sorted by expiry by the server); exit 2 for RPC errors. */
export const leaseListCommand: CommandSpec = {
  use: 'list',
  short: 'List all active leases',
  async run(ctx) {
    const display = ctx.display();
    const client = await ctx.client();
    const resp = await rpcOrExit(ExitBadConnection, () => client.leaseLeases({ timeoutMs: 0 }));
    display.leases(resp);
  },
};
