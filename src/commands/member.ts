/**
 * @module commands/member
 * `etcdctl member <subcommand>`: add, remove, update, list, promote
 * (etcdctl member_command.go).
 */

import type { CommandSpec } from '../cli/command.js';
import { memberAddCommand } from './member/add.js';
import { memberListCommand } from './member/list.js';
import { memberPromoteCommand } from './member/promote.js';
import { memberRemoveCommand } from './member/remove.js';
import { memberUpdateCommand } from './member/update.js';

export const memberCommand: CommandSpec = {
  use: 'member <subcommand>',
  short: 'Membership related commands',
  subcommands: [memberAddCommand, memberRemoveCommand, memberUpdateCommand, memberListCommand, memberPromoteCommand],
};
