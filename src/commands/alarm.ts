/**
 * @module commands/alarm
 * `etcdctl alarm <subcommand>`: list and disarm (etcdctl alarm_command.go).
 */

import type { CommandSpec } from '../cli/command.js';
import { alarmDisarmCommand } from './alarm/disarm.js';
import { alarmListCommand } from './alarm/list.js';

export const alarmCommand: CommandSpec = {
  use: 'alarm <subcommand>',
  short: 'Alarm related commands',
  subcommands: [alarmDisarmCommand, alarmListCommand],
};
