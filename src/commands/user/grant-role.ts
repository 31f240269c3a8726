/**
 * @module commands/user/grant-role
 * `etcdctl user grant-role <user name> <role name>`: the Auth.UserGrantRole RPC (user_command.go).
 */

import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs } from '../../cli/exit-codes.js';

export const userGrantRoleCommand: CommandSpec = {
  use: 'grant-role <user name> <role name>',
  short: 'Grants a role to a user',
  async run(ctx) {
    if (ctx.args.length !== 2) throw new CliError(ExitBadArgs, 'user grant command requires user name and role name as its argument');
    const [user, role] = ctx.args as [string, string];
    const display = ctx.display();
    const client = await ctx.client();
    display.userGrantRole(user, role, await client.userGrantRole(user, role, { timeoutMs: 0 }));
  },
};
