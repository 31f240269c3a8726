/**
 * @module commands/user/revoke-role
 * `etcdctl user revoke-role <user name> <role name>`: the Auth.UserRevokeRole RPC (user_command.go).
 */

import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs } from '../../cli/exit-codes.js';

export const userRevokeRoleCommand: CommandSpec = {
  use: 'revoke-role <user name> <role name>',
  short: 'Revokes a role from a user',
  async run(ctx) {
    if (ctx.args.length !== 2) throw new CliError(ExitBadArgs, 'user revoke-role requires user name and role name as its argument');
    const [user, role] = ctx.args as [string, string];
    const display = ctx.display();
    const client = await ctx.client();
    display.userRevokeRole(user, role, await client.userRevokeRole(user, role, { timeoutMs: 0 }));
  },
};
