/**
 * @module commands/user/delete
 * `etcdctl user delete <user name>`: the Auth.UserDelete RPC (user_command.go).
 */

import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs } from '../../cli/exit-codes.js';

export const userDeleteCommand: CommandSpec = {
  use: 'delete <user name>',
  short: 'Deletes a user',
  async run(ctx) {
    if (ctx.args.length !== 1) throw new CliError(ExitBadArgs, 'user delete command requires user name as its argument');
    const display = ctx.display();
    const client = await ctx.client();
    const resp = await client.userDelete(ctx.args[0]!, { timeoutMs: 0 });
    display.userDelete(ctx.args[0]!, resp);
  },
};
