/**
 * @module commands/user
 * `etcdctl user <subcommand>`: the group of user commands (etcdctl
 * user_command.go, NewUserCommand). Without a subcommand it prints its help.
 */

import type { CommandSpec } from '../cli/command.js';
import { userAddCommand } from './user/add.js';
import { userDeleteCommand } from './user/delete.js';
import { userGetCommand } from './user/get.js';
import { userGrantRoleCommand } from './user/grant-role.js';
import { userListCommand } from './user/list.js';
import { userPasswdCommand } from './user/passwd.js';
import { userRevokeRoleCommand } from './user/revoke-role.js';

export const userCommand: CommandSpec = {
  use: 'user <subcommand>',
  short: 'User related commands',
  subcommands: [userAddCommand, userDeleteCommand, userGetCommand, userListCommand, userPasswdCommand, userGrantRoleCommand, userRevokeRoleCommand],
};
