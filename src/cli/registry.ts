/**
 * @module cli/registry
 * The command tree: the root command and, explicitly, every command module
 * (like the AddCommand list in etcdctl/ctlv3/ctl.go).
 */

import type { CommandSpec } from './command.js';
import { checkCommand } from '../commands/check.js';
import { completionCommand } from '../commands/completion.js';
import { alarmCommand } from '../commands/alarm.js';
import { defragCommand } from '../commands/defrag.js';
import { endpointCommand } from '../commands/endpoint.js';
import { getCommand } from '../commands/get.js';
import { delCommand } from '../commands/del.js';
import { txnCommand } from '../commands/txn.js';
import { compactionCommand } from '../commands/compaction.js';
import { helpCommand } from '../commands/help.js';
import { leaseCommand } from '../commands/lease.js';
import { authCommand } from '../commands/auth.js';
import { userCommand } from '../commands/user.js';
import { roleCommand } from '../commands/role.js';
import { snapshotCommand } from '../commands/snapshot.js';
import { lockCommand } from '../commands/lock.js';
import { electCommand } from '../commands/elect.js';
import { makeMirrorCommand } from '../commands/make-mirror.js';
import { memberCommand } from '../commands/member.js';
import { migrateCommand } from '../commands/migrate.js';
import { moveLeaderCommand } from '../commands/move-leader.js';
import { putCommand } from '../commands/put.js';
import { versionCommand } from '../commands/version.js';
import { watchCommand } from '../commands/watch.js';

/** The root command, `etcdctl`. */
export const ROOT: CommandSpec = {
  use: 'etcdctl',
  short: 'A simple command line client for etcd3.',
  subcommands: [checkCommand, completionCommand, getCommand, putCommand, delCommand, txnCommand, compactionCommand, versionCommand, watchCommand, helpCommand, alarmCommand, defragCommand, endpointCommand, memberCommand, migrateCommand, moveLeaderCommand, leaseCommand, authCommand, userCommand, roleCommand, snapshotCommand, lockCommand, electCommand, makeMirrorCommand],
};
