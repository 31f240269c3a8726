/**
 * @module commands/role/grant-permission
 * `etcdctl role grant-permission [options] <role name> <permission type> <key> [endkey]`:
 * the Auth.RoleGrantPermission RPC (role_command.go). The type is read, write or
 * readwrite in any case (clientv3.StrToPermissionType).
 */

import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs } from '../../cli/exit-codes.js';
import { permFlags, permRange } from './perm-range.js';

/** authpb.Permission.Type by name */
const PERM_TYPES: Record<string, number> = { READ: 0, WRITE: 1, READWRITE: 2 };

export const roleGrantPermissionCommand: CommandSpec = {
  use: 'grant-permission [options] <role name> <permission type> <key> [endkey]',
  short: 'Grants a key to a role',
  flags: permFlags('grant'),
  async run(ctx) {
    const args = ctx.args;
    if (args.length < 3) throw new CliError(ExitBadArgs, 'role grant command requires role name, permission type, and key [endkey] as its argument');
    const permType = PERM_TYPES[args[1]!.toUpperCase()];
    if (permType === undefined) throw new CliError(ExitBadArgs, `invalid permission type: ${args[1]}`);
    const { key, end } = permRange(args.slice(2), ctx.flags);
    const display = ctx.display();
    const client = await ctx.client();
    display.roleGrantPermission(args[0]!, await client.roleGrantPermission(args[0]!, key, end, permType, { timeoutMs: 0 }));
  },
};
