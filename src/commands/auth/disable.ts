/**
 * @module commands/auth/disable
 * `etcdctl auth disable`: the Auth.AuthDisable RPC (auth_command.go).
 */

import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs } from '../../cli/exit-codes.js';

export const authDisableCommand: CommandSpec = {
  use: 'disable',
  short: 'Disables authentication',
  async run(ctx) {
    if (ctx.args.length !== 0) throw new CliError(ExitBadArgs, 'auth disable command does not accept any arguments');
    const client = await ctx.client();
    await client.authDisable();
    ctx.out.write('Authentication Disabled\n');
  },
};
