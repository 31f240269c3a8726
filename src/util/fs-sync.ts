/**
 * Directory fsync: makes a file created, renamed or deleted in `dir` durable (the
 * directory entry), as etcd's fileutil.Fsync on a directory. Throws the fs error.
 */
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { open } from 'node:fs/promises';

/** fsyncs directory `dir`; rejects with the fs error (ENOENT, EIO, ...). */
export async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/** Synchronous {@link syncDir}; throws the fs error. */
export function syncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
