/**
 * @module commands/role/list
 * `etcdctl role list`: the Auth.RoleList RPC (role_command.go); names sorted by the server.
 */

import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs } from '../../cli/exit-codes.js';

export const roleListCommand: CommandSpec = {
  use: 'list',
  short: 'Lists all roles',
  async run(ctx) {
    if (ctx.args.length !== 0) throw new CliError(ExitBadArgs, 'role list command requires no arguments');
    const display = ctx.display();
    const client = await ctx.client();
    display.roleList(await client.roleList({ timeoutMs: 0 }));
  },
};
