// The heavier faults of a robustness run (runner.ts injects them): a torn WAL tail, a
// failed fsync (strace fault injection), and a member removed, wiped and added again.
// Each works against real etcd 3.4.23 and ours.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { ClusterMember, RealCluster } from '../harness/cluster.js';
import {
  MemberAddRequestSchema, MemberAddResponseSchema, MemberListRequestSchema, MemberListResponseSchema, MemberRemoveRequestSchema, MemberRemoveResponseSchema,
} from '../../src/gen/etcdserverpb/rpc_pb.js';
import type { Rng } from './corpus.js';
import { untilOk, type Conn } from './traffic.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How tearWalTail damages the last record: cut the file inside it, zero its last sector's bytes, or overwrite its last bytes with garbage. */
export type TearMode = 'truncate' | 'zero' | 'garble';

/** A record of a WAL segment: where it starts, where its data is, where it ends (with padding). */
interface Frame {
  start: number;
  dataStart: number;
  dataEnd: number;
  end: number;
}

/**
 * The records of one WAL segment, in order. Two formats, told apart by the first record:
 * ours (src/server/wal/doc.md: u32 length, type byte 1 = metadata at offset 4, a 16-byte
 * header, 8-byte alignment; no preallocation) and etcd's (wal/encoder.go: an int64
 * little-endian length field whose top byte holds the padding, 0x80 | pad, then the
 * protobuf walpb.Record; segments preallocated to 64,000,000 bytes of zeros, a zero length ends
 * the records).
 */
export function walFrames(buf: Buffer): { format: 'ours' | 'etcd'; frames: Frame[] } {
  const frames: Frame[] = [];
  const ours = buf.length >= 16 && buf[4] === 1 && buf.readUInt32LE(0) === 16;
  let off = 0;
  if (ours) {
    while (off + 16 <= buf.length) {
      const n = buf.readUInt32LE(off);
      const end = off + 16 + n + ((8 - (n % 8)) % 8);
      if (off + 16 + n > buf.length) break;
      frames.push({ start: off, dataStart: off + 16, dataEnd: off + 16 + n, end: Math.min(end, buf.length) });
      off = end;
    }
    return { format: 'ours', frames };
  }
  while (off + 8 <= buf.length) {
    const field = buf.readBigUInt64LE(off);
    if (field === 0n) break;
    const n = Number(field & 0x00ff_ffff_ffff_ffffn);
    const pad = field >> 63n === 1n ? Number((field >> 56n) & 7n) : 0;
    const end = off + 8 + n + pad;
    if (end > buf.length) break;
    frames.push({ start: off, dataStart: off + 8, dataEnd: off + 8 + n, end });
    off = end;
  }
  return { format: 'etcd', frames };
}

/**
 * Damages the last record of the newest WAL segment in `dataDir` (member/wal) as a crash
 * in the middle of writing it would (the member must be stopped). `zero` clears the
 * record's bytes from the last 512-byte sector boundary inside it to its end (a sector
 * never written: what etcd's decoder calls a torn entry); `truncate` cuts the file inside
 * the record's data; `garble` overwrites its last 1..16 bytes with other bytes (not a
 * torn write for etcd: a CRC mismatch). Returns a description.
 * @throws Error if there is no WAL segment or it holds no record
 */
export function tearWalTail(dataDir: string, mode: TearMode, rng: Rng): string {
  const dir = path.join(dataDir, 'member', 'wal');
  const segs = fs.readdirSync(dir).filter((f) => f.endsWith('.wal')).sort();
  const file = path.join(dir, segs[segs.length - 1] ?? '');
  if (!segs.length) throw new Error(`no WAL segment in ${dir}`);
  const buf = fs.readFileSync(file);
  const { format, frames } = walFrames(buf);
  const last = frames[frames.length - 1];
  if (!last || last.dataEnd === last.dataStart) throw new Error(`no record in ${file}`);
  const where = `${format} segment ${path.basename(file)} (${frames.length} records), last record at ${last.start}..${last.dataEnd}`;
  switch (mode) {
    case 'truncate': {
      const at = last.dataStart + rng.int(last.dataEnd - last.dataStart);
      fs.truncateSync(file, at);
      return `${where}: file cut at ${at}`;
    }
    case 'zero': {
      const from = Math.max(last.dataStart, Math.floor((last.dataEnd - 1) / 512) * 512);
      const fd = fs.openSync(file, 'r+');
      fs.writeSync(fd, Buffer.alloc(last.dataEnd - from), 0, last.dataEnd - from, from);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      return `${where}: bytes ${from}..${last.dataEnd} zeroed`;
    }
    case 'garble': {
      const k = Math.min(last.dataEnd - last.dataStart, 1 + rng.int(16));
      const from = last.dataEnd - k;
      const bytes = Buffer.from(Array.from({ length: k }, (_, i) => (buf[from + i]! ^ (1 + rng.int(255))) & 0xff));
      const fd = fs.openSync(file, 'r+');
      fs.writeSync(fd, bytes, 0, k, from);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      return `${where}: bytes ${from}..${last.dataEnd} garbled`;
    }
  }
}

/** The gRPC details of an error (or its message). */
function details(e: unknown): string {
  return String((e as { details?: string })?.details ?? (e as Error)?.message ?? e);
}

/**
 * Removes `target` from the cluster (MemberRemove through the other members), stops its
 * process, empties its data dir, waits `pauseMs`, adds it again under the same peer URL
 * (MemberAdd; retried while the leader answers `unhealthy cluster`, etcd's
 * --strict-reconfig-check) and starts it with --initial-cluster-state=existing. Returns
 * the new member ID (hex). @throws Error if a step does not succeed within 30 s
 */
export async function replaceMember(cluster: RealCluster, conns: Conn[], target: ClusterMember, pauseMs: number, log: (s: string) => void): Promise<string> {
  const others = conns.filter((_, i) => cluster.members[i] !== target);
  const oldId = BigInt(`0x${target.memberIdHex}`);
  await untilOk(others, 30_000, async (c) => {
    try {
      await c.unary('/etcdserverpb.Cluster/MemberRemove', MemberRemoveRequestSchema, MemberRemoveResponseSchema, { ID: oldId }, 5000);
    } catch (e) {
      // an earlier attempt that timed out may have removed it
      if (!details(e).includes('member not found')) throw e;
    }
  });
  log(`member ${target.name} (${target.memberIdHex}) removed`);
  await target.stop();
  fs.rmSync(target.dataDir, { recursive: true, force: true });
  await sleep(pauseMs);
  let newId: bigint | undefined;
  await untilOk(others, 30_000, async (c) => {
    try {
      const r = await c.unary('/etcdserverpb.Cluster/MemberAdd', MemberAddRequestSchema, MemberAddResponseSchema, { peerURLs: [target.peerURL] }, 5000);
      newId = r.member?.ID;
    } catch (e) {
      // an earlier attempt that timed out may have added it: found in the list below
      if (!details(e).includes('Peer URLs already exists')) throw e;
    }
  });
  const list = await untilOk(others, 10_000, (c) => c.unary('/etcdserverpb.Cluster/MemberList', MemberListRequestSchema, MemberListResponseSchema, {}, 3000));
  newId ??= list.members.find((m) => m.peerURLs.includes(target.peerURL))?.ID;
  if (newId === undefined) throw new Error(`member ${target.name} not in the member list after MemberAdd`);
  const initialCluster = list.members.map((m) => `${m.ID === newId ? target.name : m.name}=${m.peerURLs[0]}`).join(',');
  log(`member ${target.name} added again as ${newId.toString(16)}, --initial-cluster=${initialCluster}`);
  await target.rejoin(initialCluster, newId.toString(16));
  return newId.toString(16);
}

/** The last line of a member's log that says why it stopped (fatal, panic or error), shortened. */
export function lastFatal(logText: string): string {
  const lines = logText.split('\n').filter((l) => /"level":"(fatal|panic|error)"|^panic:|Error|error/.test(l));
  return (lines[lines.length - 1] ?? '(no error in the log)').slice(0, 400);
}

/**
 * Makes every fdatasync and fsync of process `pid` (all its threads) fail with EIO, by
 * attaching `strace -f -e inject=...` to it; positioned writes (pwrite64, pwritev) fail
 * too, since a write through a descriptor opened with O_DSYNC is a data sync (our WAL
 * appends so; LMDB writes its meta page so). Resolves once strace has attached (or the
 * process is gone, maybe from a first failed fsync); the
 * returned function detaches (the process goes on unharmed if it is still running).
 * @throws Error if strace does not attach within 10 s
 */
export async function failFsyncs(pid: number): Promise<() => Promise<void>> {
  const st = spawn('strace', ['-f', '-qq', '-o', '/dev/null', '-e', 'trace=fdatasync,fsync,pwrite64,pwritev', '-e', 'inject=fdatasync,fsync,pwrite64,pwritev:error=EIO', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  st.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  st.on('error', (e) => { err += `${e.message} (is strace installed?)`; });
  const done = new Promise<void>((r) => st.once('exit', () => r()));
  /** True when every thread of `pid` is traced by this strace, or `pid` is gone (it may die at its first failed fsync). */
  const attached = () => {
    if (!fs.existsSync(`/proc/${pid}`)) return true;
    try {
      const tasks = fs.readdirSync(`/proc/${pid}/task`);
      return tasks.length > 0 && tasks.every((t) => Number(/TracerPid:\s*(\d+)/.exec(fs.readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8'))?.[1] ?? 0) === st.pid);
    } catch {
      return false;
    }
  };
  for (let i = 0; !attached(); i++) {
    if (i > 100 || st.exitCode !== null || err.includes('strace installed')) {
      st.kill('SIGKILL');
      throw new Error(`strace did not attach to ${pid}: ${err}`);
    }
    await sleep(100);
  }
  return async () => {
    if (st.exitCode === null) st.kill('SIGTERM');
    await Promise.race([done, sleep(5000)]);
    if (st.exitCode === null && st.signalCode === null) st.kill('SIGKILL');
  };
}
