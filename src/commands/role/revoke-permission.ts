/**
 * @module commands/role/revoke-permission
 * `etcdctl role revoke-permission <role name> <key> [endkey]`: the
 * Auth.RoleRevokePermission RPC (role_command.go). The server only revokes a
 * permission whose key and range end match exactly.
 */

import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs } from '../../cli/exit-codes.js';
import { permFlags, permRange } from './perm-range.js';

export const roleRevokePermissionCommand: CommandSpec = {
  use: 'revoke-permission <role name> <key> [endkey]',
  short: 'Revokes a key from a role',
  flags: permFlags('revoke'),
  async run(ctx) {
    const args = ctx.args;
    if (args.length < 2) throw new CliError(ExitBadArgs, 'role revoke-permission command requires role name and key [endkey] as its argument');
    const { key, end } = permRange(args.slice(1), ctx.flags);
    const display = ctx.display();
    const client = await ctx.client();
    const resp = await client.roleRevokePermission(args[0]!, key, end, { timeoutMs: 0 });
    display.roleRevokePermission(args[0]!, args[1]!, end, resp);
  },
};
