/**
 * @module commands/role
 * `etcdctl role <subcommand>`: the group of role commands (etcdctl
 * role_command.go, NewRoleCommand). Without a subcommand it prints its help.
 */

import type { CommandSpec } from '../cli/command.js';
import { roleAddCommand } from './role/add.js';
import { roleDeleteCommand } from './role/delete.js';
import { roleGetCommand } from './role/get.js';
import { roleGrantPermissionCommand } from './role/grant-permission.js';
import { roleListCommand } from './role/list.js';
import { roleRevokePermissionCommand } from './role/revoke-permission.js';

export const roleCommand: CommandSpec = {
  use: 'role <subcommand>',
  short: 'Role related commands',
  subcommands: [roleAddCommand, roleDeleteCommand, roleGetCommand, roleListCommand, roleGrantPermissionCommand, roleRevokePermissionCommand],
};
