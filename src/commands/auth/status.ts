/**
 * @module commands/auth/status
 * `etcdctl auth status`: the Auth.AuthStatus RPC. This command and RPC exist from
 * etcd 3.5 on (etcdctl 3.4.23 has neither); output as etcdctl 3.5's printers:
 * `Authentication Status: <bool>` and `AuthRevision: <n>` in the simple format.
 * Against a 3.4 server the RPC fails with `Unimplemented` (exit 1).
 */

import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs } from '../../cli/exit-codes.js';

export const authStatusCommand: CommandSpec = {
  use: 'status',
  short: 'Returns authentication status',
  async run(ctx) {
    if (ctx.args.length !== 0) throw new CliError(ExitBadArgs, 'auth status command does not accept any arguments');
    const display = ctx.display();
    const client = await ctx.client();
    display.authStatus(await client.authStatus());
  },
};
