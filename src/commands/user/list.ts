/**
 * @module commands/user/list
 * `etcdctl user list`: the Auth.UserList RPC (user_command.go); names sorted by the server.
 */

import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs } from '../../cli/exit-codes.js';

export const userListCommand: CommandSpec = {
  use: 'list',
  short: 'Lists all users',
  async run(ctx) {
    if (ctx.args.length !== 0) throw new CliError(ExitBadArgs, 'user list command requires no arguments');
    const display = ctx.display();
    const client = await ctx.client();
    display.userList(await client.userList({ timeoutMs: 0 }));
  },
};
