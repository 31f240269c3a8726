/**
 * @module commands/user/get
 * `etcdctl user get <user name> [options]`: the Auth.UserGet RPC (user_command.go).
 * With `--detail`, prints `User: <name>` and then, for each role, a blank line and
 * the role as `role get` prints it (one RoleGet call per role).
 */

import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs } from '../../cli/exit-codes.js';

export const userGetCommand: CommandSpec = {
  use: 'get <user name> [options]',
  short: 'Gets detailed information of a user',
  flags: [{ name: 'detail', type: 'bool', default: false, usage: 'Show permissions of roles granted to the user' }],
  async run(ctx) {
    if (ctx.args.length !== 1) throw new CliError(ExitBadArgs, 'user get command requires user name as its argument');
    const name = ctx.args[0]!;
    const display = ctx.display();
    const client = await ctx.client();
    const resp = await client.userGet(name, { timeoutMs: 0 });
    if (!ctx.flags.bool('detail')) {
      display.userGet(name, resp);
      return;
    }
    // etcdctl prints these lines itself, whatever the output format
    ctx.out.write(Buffer.from(`User: ${name}\n`, 'utf8'));
    for (const role of resp.roles) {
      ctx.out.write('\n');
      const r = await client.roleGet(role, { timeoutMs: 0 });
      display.roleGet(role, r);
    }
  },
};
