/**
 * @module commands/user/passwd
 * `etcdctl user passwd <user name> [options]`: the Auth.UserChangePassword RPC
 * (user_command.go). The password is read before connecting, from stdin with
 * `--interactive=false`, else from two prompts.
 */

import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs } from '../../cli/exit-codes.js';
import { readPasswordInteractive, scanWord } from './password.js';

export const userPasswdCommand: CommandSpec = {
  use: 'passwd <user name> [options]',
  short: 'Changes password of user',
  flags: [{ name: 'interactive', type: 'bool', default: true, usage: 'If true, read password from stdin instead of interactive terminal' }],
  async run(ctx) {
    if (ctx.args.length !== 1) throw new CliError(ExitBadArgs, 'user passwd command requires user name as its argument');
    const name = ctx.args[0]!;
    const password = ctx.flags.bool('interactive') ? readPasswordInteractive(ctx, name) : scanWord();
    const display = ctx.display();
    const client = await ctx.client();
    display.userChangePassword(await client.userChangePassword(name, password, { timeoutMs: 0 }));
  },
};
