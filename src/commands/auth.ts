/**
 * @module commands/auth
 * `etcdctl auth <enable or disable>`: the group of authentication switches (etcdctl
 * auth_command.go, NewAuthCommand), plus etcd 3.5's `auth status`.
 */

import type { CommandSpec } from '../cli/command.js';
import { authDisableCommand } from './auth/disable.js';
import { authEnableCommand } from './auth/enable.js';
import { authStatusCommand } from './auth/status.js';

export const authCommand: CommandSpec = {
  use: 'auth <enable or disable>',
  short: 'Enable or disable authentication',
  subcommands: [authEnableCommand, authDisableCommand, authStatusCommand],
};
