/**
 * @module commands/snapshot
 * `etcdctl snapshot <subcommand>`: save, restore and status (etcdctl
 * snapshot_command.go, NewSnapshotCommand). Without a subcommand it prints its help.
 */

import type { CommandSpec } from '../cli/command.js';
import { snapshotRestoreCommand } from './snapshot/restore.js';
import { snapshotSaveCommand } from './snapshot/save.js';
import { snapshotStatusCommand } from './snapshot/status.js';

/** The `snapshot` command group. */
export const snapshotCommand: CommandSpec = {
  use: 'snapshot <subcommand>',
  short: 'Manages etcd node snapshots',
  subcommands: [snapshotSaveCommand, snapshotRestoreCommand, snapshotStatusCommand],
};
