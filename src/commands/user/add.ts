/**
 * @module commands/user/add
 * `etcdctl user add <user name or user:password> [options]`: the Auth.UserAdd RPC
 * (user_command.go, userAddCommandFunc). The password comes from
 * `--new-user-password`, the `user:password` form, stdin (`--interactive=false`) or
 * two prompts; `--no-password` creates a user for certificate-CN auth only.
 */

import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs } from '../../cli/exit-codes.js';
import { readPasswordInteractive, scanWord } from './password.js';

export const userAddCommand: CommandSpec = {
  use: 'add <user name or user:password> [options]',
  short: 'Adds a new user',
  flags: [
    { name: 'interactive', type: 'bool', default: true, usage: 'Read password from stdin instead of interactive terminal' },
    { name: 'new-user-password', type: 'string', default: '', usage: 'Supply password from the command line flag' },
    { name: 'no-password', type: 'bool', default: false, usage: 'Create a user without password (CN based auth only)' },
  ],
  async run(ctx) {
    if (ctx.args.length !== 1) throw new CliError(ExitBadArgs, 'user add command requires user name as its argument');
    const arg = ctx.args[0]!;
    const noPassword = ctx.flags.bool('no-password');
    const fromFlag = ctx.flags.string('new-user-password');
    let user = arg;
    let password = '';
    if (!noPassword) {
      const colon = arg.indexOf(':');
      if (fromFlag !== '') {
        password = fromFlag;
      } else if (colon < 0) {
        password = ctx.flags.bool('interactive') ? readPasswordInteractive(ctx, arg) : scanWord();
      } else {
        user = arg.slice(0, colon);
        password = arg.slice(colon + 1);
        if (user.length === 0) throw new CliError(ExitBadArgs, 'empty user name is not allowed');
      }
    }
    const display = ctx.display();
    const client = await ctx.client();
    // context.TODO() in etcdctl: no command timeout
    const resp = await client.userAdd(user, password, noPassword, { timeoutMs: 0 });
    display.userAdd(user, resp);
  },
};
