/**
 * @module commands/role/delete
 * `etcdctl role delete <role name>`: the Auth.RoleDelete RPC (role_command.go).
 */

import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs } from '../../cli/exit-codes.js';

export const roleDeleteCommand: CommandSpec = {
  use: 'delete <role name>',
  short: 'Deletes a role',
  async run(ctx) {
    if (ctx.args.length !== 1) throw new CliError(ExitBadArgs, 'role delete command requires role name as its argument');
    const display = ctx.display();
    const client = await ctx.client();
    display.roleDelete(ctx.args[0]!, await client.roleDelete(ctx.args[0]!, { timeoutMs: 0 }));
  },
};
