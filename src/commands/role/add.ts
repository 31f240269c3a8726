/**
 * @module commands/role/add
 * `etcdctl role add <role name>`: the Auth.RoleAdd RPC (role_command.go).
 */

import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs } from '../../cli/exit-codes.js';

export const roleAddCommand: CommandSpec = {
  use: 'add <role name>',
  short: 'Adds a new role',
  async run(ctx) {
    if (ctx.args.length !== 1) throw new CliError(ExitBadArgs, 'role add command requires role name as its argument');
    const display = ctx.display();
    const client = await ctx.client();
    // context.TODO() in etcdctl: no command timeout
    display.roleAdd(ctx.args[0]!, await client.roleAdd(ctx.args[0]!, { timeoutMs: 0 }));
  },
};
