/**
 * @module commands/defrag-data
 * `etcdctl defrag --data-dir <dir>`: offline defragmentation of a member's backend,
 * `<dir>/member/snap/db` (etcdctl 3.4 defragData: it opens the backend, waiting for a
 * running etcd to release its lock, and runs the backend's Defrag). Two formats:
 *
 * - etcd's bbolt file: rewritten compactly (util/bbolt-writer.ts) into `db.defrag`,
 *   fsynced and renamed over `db` (mode 0600), so etcd 3.4 starts on it as before;
 * - the LMDB file of `etcdctl serve`: LMDB's compacting copy (`mdb_env_copy2` with
 *   MDB_CP_COMPACT) renamed over it.
 *
 * A file in use (a process holds a lock on it: bbolt's flock on `db`, LMDB's lock on
 * `db-lock`, found in /proc/locks) is waited for, with etcdctl's message after 1 s, as
 * etcdctl waits for the flock. Prints nothing on success. Errors (the file unchanged):
 * `Failed to defragment etcd data[<dir>] (<why>)`, exit 1. Deliberate difference:
 * etcdctl panics (exit 2) when the file is missing or not a bbolt database; we report
 * it as such an error.
 */
import { chmodSync, closeSync, existsSync, fsyncSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BoltError, BoltReader } from '../util/bbolt-reader.js';
import { boltFileSource, writeBoltFile } from '../util/bbolt-writer.js';
import { syncDirSync } from '../util/fs-sync.js';
import { goPathError } from '../util/go-errors.js';

/** True when a process other than this one holds a lock on `path` (Linux /proc/locks). */
export function lockedByOther(path: string): boolean {
  let ino: number;
  try {
    ino = statSync(path).ino;
  } catch {
    return false;
  }
  let locks: string;
  try {
    locks = readFileSync('/proc/locks', 'utf8');
  } catch {
    return false;
  }
  // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF": pid, then major:minor:inode
  for (const line of locks.split('\n')) {
    const m = /\s(\d+)\s+[0-9a-f]+:[0-9a-f]+:(\d+)\s/.exec(line);
    if (m && Number(m[2]) === ino && Number(m[1]) !== process.pid && !line.includes('->')) return true;
  }
  return false;
}

/**
 * Which backend format the file starts with, by the first meta page's magic: bbolt
 * (0xED0CDAED after its 16-byte page header) or LMDB (0xBEEFC0DE at offset 24); LMDB
 * crashes the process on a file that is not one, so nothing else is opened with it.
 */
function formatOf(path: string): 'bbolt' | 'lmdb' | undefined {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(32);
    const n = readSync(fd, b, 0, b.length, 0);
    if (n >= 24 && b.readUInt32LE(16) === 0xed0cdaed) return 'bbolt';
    if (n >= 32 && b.readUInt32LE(24) === 0xbeefc0de && statSync(path).size >= 8192) return 'lmdb';
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * Defragments `<dataDir>/member/snap/db` (see the module comment).
 * @param wait called once when the file is still in use after 1 s (etcdctl's message)
 * @throws Error with the reason (the caller prints etcdctl's `Failed to defragment ...`)
 */
export async function defragDataDir(dataDir: string, wait: (dbPath: string) => void): Promise<void> {
  const db = join(dataDir, 'member', 'snap', 'db');
  if (!existsSync(db)) throw new Error(goPathError('open', db, Object.assign(new Error('ENOENT'), { code: 'ENOENT' })));
  const started = Date.now();
  let warned = false;
  while (lockedByOther(db) || lockedByOther(`${db}-lock`)) {
    if (!warned && Date.now() - started >= 1000) {
      wait(db);
      warned = true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const tmp = `${db}.defrag`;
  rmSync(tmp, { force: true });
  const format = formatOf(db);
  if (format === undefined) throw new Error(`${db}: invalid database (neither an etcd bbolt file nor an etcdctl serve LMDB file)`);
  try {
    if (format === 'bbolt') {
      const r = BoltReader.open(db);
      try {
        const errors = r.check();
        if (errors.length > 0) throw new BoltError(errors[0]!);
        writeBoltFile(tmp, boltFileSource(r));
      } finally {
        r.close();
      }
    } else {
      // etcdctl serve's backend: LMDB (one file, `noSubdir`)
      const lmdb = await import('lmdb');
      const env = lmdb.open({ path: db, noSubdir: true } as Parameters<typeof lmdb.open>[0]);
      try {
        await env.backup(tmp, true);
      } finally {
        await env.close();
      }
      rmSync(`${tmp}-lock`, { force: true });
    }
    chmodSync(tmp, 0o600);
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, db);
    syncDirSync(dirname(db));
  } finally {
    rmSync(tmp, { force: true });
  }
}
