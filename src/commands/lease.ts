/**
 * @module commands/lease
 * `etcdctl lease <subcommand>`: the group of lease commands (etcdctl
 * lease_command.go, NewLeaseCommand). Without a subcommand it prints its help.
 */

import type { CommandSpec } from '../cli/command.js';
import { leaseGrantCommand } from './lease/grant.js';
import { leaseKeepAliveCommand } from './lease/keep-alive.js';
import { leaseListCommand } from './lease/list.js';
import { leaseRevokeCommand } from './lease/revoke.js';
import { leaseTimeToLiveCommand } from './lease/timetolive.js';

/** The `lease` command group; its subcommands are listed in cobra's (name) order in help. */
export const leaseCommand: CommandSpec = {
  use: 'lease <subcommand>',
  short: 'Lease related commands',
  subcommands: [leaseGrantCommand, leaseRevokeCommand, leaseTimeToLiveCommand, leaseListCommand, leaseKeepAliveCommand],
};
