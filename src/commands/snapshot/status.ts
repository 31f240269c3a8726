/**
 * @module commands/snapshot/status
 * `etcdctl snapshot status <filename>`: reads a snapshot (or backend) file with our
 * bbolt reader and prints what clientv3/snapshot's Status computes (v3_snapshot.go):
 *
 * - the file must exist (`stat <f>: ...`) and open as bbolt (`invalid database`, ...);
 * - bbolt's integrity check must pass, else `snapshot file integrity check failed. N
 *   errors found.` followed by one line per error;
 * - hash: crc32c over, for each top-level bucket in order, its name and then every
 *   key and value of the bucket (nested buckets contribute their key only);
 * - revision: the main revision (first 8 bytes, big-endian) of the last key of the
 *   `key` bucket; total keys: the entries of all top-level buckets; total size:
 *   pgid × page size (bbolt's Tx.Size(), not the file size).
 *
 * All errors exit 1. Formats: simple, json, fields, table; protobuf is not supported
 * (exit 4). Where etcdctl 3.4 crashes on a damaged file (SIGBUS on a truncated file,
 * panics in bbolt), this prints the integrity-check error instead.
 */

import { statSync } from 'node:fs';
import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs, ExitError } from '../../cli/exit-codes.js';
import type { DbStatus } from '../../cli/printer/maintenance.js';
import { BoltCorruptError, BoltError, BoltReader, BUCKET_LEAF } from '../../util/bbolt-reader.js';
import { goPathError } from '../../util/go-errors.js';
import { Crc32c } from '../../util/crc32c.js';

/** The error etcd reports when bbolt's Tx.Check() finds problems. */
export function integrityError(errors: string[]): string {
  return `snapshot file integrity check failed. ${errors.length} errors found.\n${errors.join('\n')}`;
}

/**
 * Computes the status of a snapshot file as clientv3/snapshot's Status does.
 * @throws BoltError with the message etcdctl prints (exit 1)
 */
export function snapshotFileStatus(path: string): DbStatus {
  try {
    statSync(path);
  } catch (e) {
    throw new BoltError(goPathError('stat', path, e));
  }
  const db = BoltReader.open(path);
  try {
    const errors = db.check();
    if (errors.length > 0) throw new BoltError(integrityError(errors));
    try {
      const h = new Crc32c();
      let revision = 0n;
      let totalKey = 0;
      for (const top of db.rootEntries()) {
        if (!(top.flags & BUCKET_LEAF)) throw new BoltError(`cannot get hash of bucket ${top.key.toString()}`);
        h.update(top.key);
        const isKey = top.key.length === 3 && top.key.toString('latin1') === 'key';
        for (const e of db.entries(db.bucketRoot(top))) {
          h.update(e.key);
          if (e.value) h.update(e.value);
          if (isKey) {
            if (e.key.length < 17) throw new BoltCorruptError(`bucket "key": key of ${e.key.length} bytes is not a revision (want 17 or more)`);
            revision = e.key.readBigInt64BE(0);
          }
          totalKey++;
        }
      }
      return { hash: h.sum(), revision, totalKey, totalSize: db.size };
    } catch (e) {
      if (e instanceof BoltCorruptError) throw new BoltError(integrityError([e.message]));
      throw e;
    }
  } finally {
    db.close();
  }
}

export const snapshotStatusCommand: CommandSpec = {
  use: 'status <filename>',
  short: 'Gets backend snapshot status of a given file',
  long: `When --write-out is set to simple, this command prints out comma-separated status lists for each endpoint.
The items in the lists are hash, revision, total keys, total size.
`,
  async run(ctx) {
    if (ctx.args.length !== 1) throw new CliError(ExitBadArgs, 'snapshot status requires exactly one argument');
    const printer = ctx.display();
    let ds: DbStatus;
    try {
      ds = snapshotFileStatus(ctx.args[0]!);
    } catch (e) {
      if (e instanceof BoltError) throw new CliError(ExitError, e.message);
      throw e;
    }
    printer.dbStatus(ds);
  },
};
