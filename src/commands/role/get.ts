/**
 * @module commands/role/get
 * `etcdctl role get <role name>`: the Auth.RoleGet RPC (role_command.go); the simple
 * format lists the read and the write permissions.
 */

import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs } from '../../cli/exit-codes.js';

export const roleGetCommand: CommandSpec = {
  use: 'get <role name>',
  short: 'Gets detailed information of a role',
  async run(ctx) {
    if (ctx.args.length !== 1) throw new CliError(ExitBadArgs, 'role get command requires role name as its argument');
    const display = ctx.display();
    const client = await ctx.client();
    display.roleGet(ctx.args[0]!, await client.roleGet(ctx.args[0]!, { timeoutMs: 0 }));
  },
};
