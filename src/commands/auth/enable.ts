/**
 * @module commands/auth/enable
 * `etcdctl auth enable`: the Auth.AuthEnable RPC (auth_command.go). When the server
 * answers `root user does not have root role`, etcdctl creates role `root`, grants it
 * to user `root` and tries again; any other error ends the command (exit 1).
 */

import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs } from '../../cli/exit-codes.js';
import { EtcdError } from '../../client/errors.js';

export const authEnableCommand: CommandSpec = {
  use: 'enable',
  short: 'Enables authentication',
  async run(ctx) {
    if (ctx.args.length !== 0) throw new CliError(ExitBadArgs, 'auth enable command does not accept any arguments');
    const client = await ctx.client();
    for (;;) {
      try {
        await client.authEnable();
        break;
      } catch (e) {
        if (!(e instanceof EtcdError) || !e.is('etcdserver: root user does not have root role')) throw e;
      }
      await client.roleAdd('root');
      await client.userGrantRole('root', 'root');
    }
    ctx.out.write('Authentication Enabled\n');
  },
};
