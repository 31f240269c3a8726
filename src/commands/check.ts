/**
 * @module commands/check
 * `etcdctl check <subcommand>`: the group of cluster property checks (etcdctl
 * check.go, NewCheckCommand): `check perf` and `check datascale`. Without a
 * subcommand it prints its help.
 */

import type { CommandSpec } from '../cli/command.js';
import { checkDatascaleCommand } from './check/datascale.js';
import { checkPerfCommand } from './check/perf.js';

/** The `check` command group. */
export const checkCommand: CommandSpec = {
  use: 'check <subcommand>',
  short: 'commands for checking properties of the etcd cluster',
  subcommands: [checkPerfCommand, checkDatascaleCommand],
};
