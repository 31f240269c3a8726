/**
 * @module commands/make-mirror
 * `etcdctl make-mirror [options] <destination>` (etcdctl/ctlv3/command/
 * make_mirror_command.go in 3.4.23, plus flags of later versions), on client/mirror:
 *
 * 1. connects to the destination (one endpoint; `--dest-cacert/--dest-cert/--dest-key`,
 *    `--dest-insecure-transport`; global dial/keepalive settings), then to the source
 *    (the global options);
 * 2. takes the source revision (`get foo`), then checks `--dest-prefix` against
 *    `--no-dest-prefix` (exit 128; etcdctl checks this late, after that get);
 * 3. copies every key under `--prefix` at that revision with one Put each (values
 *    only: leases are not mirrored), renaming the first occurrence of the prefix in
 *    the key to the destination prefix (`--dest-prefix`; the same prefix by default;
 *    none with `--no-dest-prefix`);
 * 4. watches the source from the next revision and applies the events of each revision
 *    as one txn of puts and deletes on the destination.
 *
 * Every 30 s it prints the number of keys/events mirrored so far. It never ends by
 * itself: a compaction of the source under the watch gives `Error: etcdserver: mvcc:
 * required revision has been compacted`; RPC errors are `Error: <err>`; an ended watch
 * gives etcdctl's `Error: <nil>`; all exit 1.
 *
 * Flags of later etcdctl versions (documented in the reference):
 * - `--dest-user`, `--dest-password` (3.5): authenticate to the destination; a user
 *   without `:password` and no `--dest-password` prompts `Destination Password: `.
 * - `--rev` (3.6): start from that source revision: no base copy, watch from `--rev`.
 * - `--max-txn-ops` (3.6, default 128): a revision's events are split into txns of at
 *   most that many operations (3.4 sends one txn per revision, which the server refuses
 *   beyond its own limit of 128).
 */

import type { CommandSpec } from '../cli/command.js';
import { CliError, ExitBadArgs, ExitError } from '../cli/exit-codes.js';
import { makeClient } from '../cli/connect.js';
import type { EtcdClient } from '../client/client.js';
import { Syncer } from '../client/mirror.js';
import { bytes } from '../client/range.js';
import { Event_EventType } from '../gen/mvccpb/kv_pb.js';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { RequestOpSchema } from '../gen/etcdserverpb/rpc_pb.js';

/** How often the running total is printed (ms). */
const REPORT_INTERVAL_MS = 30_000;

const COMPACTED = 'etcdserver: mvcc: required revision has been compacted';

/**
 * Reads a password like speakeasy.Ask: `prompt` on stdout, no echo on a terminal,
 * the line up to the newline, then a newline on stdout.
 */
function askPassword(prompt: string, write: (s: string) => void): Promise<string> {
  write(prompt);
  const stdin = process.stdin;
  if (stdin.isTTY) stdin.setRawMode(true);
  return new Promise((resolve, reject) => {
    let buf = '';
    const finish = (err?: Error) => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      if (stdin.isTTY) stdin.setRawMode(false);
      stdin.pause();
      if (err) return reject(err);
      write('\n');
      resolve(buf.trim());
    };
    const onData = (d: Buffer) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003') return finish(new Error('interrupted'));
        if (ch === '\u007f') buf = buf.slice(0, -1);
        else buf += ch;
      }
    };
    const onEnd = () => finish();
    stdin.on('data', onData);
    stdin.on('end', onEnd);
  });
}

/**
 * The destination's user and password (3.5's authDestCfg).
 * @returns [user, password] for makeClient; ['', ''] without `--dest-user`
 */
async function destAuth(user: string, password: string, write: (s: string) => void): Promise<[string, string]> {
  if (user === '') return ['', ''];
  if (password !== '') return [user, password];
  const i = user.indexOf(':');
  if (i >= 0) return [user.slice(0, i), user.slice(i + 1)];
  let p: string;
  try {
    p = await askPassword('Destination Password: ', write);
  } catch (e) {
    throw new CliError(ExitError, (e as Error).message);
  }
  // an empty password means no authentication (clientv3); `user:` says so to makeClient
  return p === '' ? [`${user}:`, ''] : [user, p];
}

/**
 * The destination key: the first occurrence of `from` in `key` replaced by `to`
 * (Go's strings.Replace(key, from, to, 1); an empty `from` inserts `to` in front).
 */
export function modifyPrefix(key: Uint8Array, from: Uint8Array, to: Uint8Array): Uint8Array {
  const k = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  const i = k.indexOf(Buffer.from(from));
  if (i < 0) return key;
  return Buffer.concat([k.subarray(0, i), to, k.subarray(i + from.length)]);
}

type Op = MessageInitShape<typeof RequestOpSchema>;

/** Mirrors `src` into `dst` until an error; see the module comment. */
async function makeMirror(
  src: EtcdClient,
  dst: EtcdClient,
  o: { prefix: string; destPrefix: string; noDestPrefix: boolean; rev: bigint; maxTxnOps: number },
  report: (total: number) => void,
): Promise<never> {
  let total = 0;
  const timer = setInterval(() => report(total), REPORT_INTERVAL_MS);
  const prefix = bytes(o.prefix);
  const syncer = new Syncer(src, prefix, o.rev > 1n ? o.rev - 1n : 0n);
  try {
    const baseSync = syncer.rev === 0n;
    const getErr = baseSync ? await syncer.pickRevision() : undefined;
    if (o.noDestPrefix && o.destPrefix.length > 0) {
      throw new CliError(ExitBadArgs, '`--dest-prefix` and `--no-dest-prefix` cannot be set at the same time, choose one');
    }
    const destPrefix = bytes(!o.noDestPrefix && o.destPrefix.length === 0 ? o.prefix : o.destPrefix);
    const rename = (k: Uint8Array) => modifyPrefix(k, prefix, destPrefix);

    if (baseSync) {
      if (getErr) throw getErr;
      await syncer.syncBase(async (page) => {
        for (const kv of page.kvs) {
          await dst.put({ key: rename(kv.key), value: kv.value }, { timeoutMs: 0 });
          total++;
        }
      });
    }

    const ch = await syncer.syncUpdates();
    const commit = async (ops: Op[]) => {
      await dst.txn({ success: ops }, { timeoutMs: 0 });
    };
    for (;;) {
      const d = await ch.next();
      if (!d) break;
      if (d.resp.compactRevision !== 0n) throw new CliError(ExitError, COMPACTED);
      let lastRev = 0n;
      let ops: Op[] = [];
      for (const ev of d.resp.events) {
        const kv = ev.kv!;
        if (lastRev !== 0n && kv.modRevision > lastRev) {
          await commit(ops);
          ops = [];
        }
        lastRev = kv.modRevision;
        if (ops.length === o.maxTxnOps) {
          await commit(ops);
          ops = [];
        }
        if (ev.type === Event_EventType.PUT) {
          ops.push({ request: { case: 'requestPut', value: { key: rename(kv.key), value: kv.value } } });
        } else {
          ops.push({ request: { case: 'requestDeleteRange', value: { key: rename(kv.key) } } });
        }
        total++;
      }
      if (ops.length > 0) await commit(ops);
    }
    // the watch ended without an error worth reporting: etcdctl prints its nil error
    throw new CliError(ExitError, '<nil>');
  } finally {
    clearInterval(timer);
    syncer.close();
  }
}

/** `make-mirror [options] <destination>`; see the module comment. */
export const makeMirrorCommand: CommandSpec = {
  use: 'make-mirror [options] <destination>',
  short: 'Makes a mirror at the destination etcd cluster',
  flags: [
    { name: 'prefix', type: 'string', default: '', usage: 'Key-value prefix to mirror' },
    { name: 'dest-prefix', type: 'string', default: '', usage: 'destination prefix to mirror a prefix to a different prefix in the destination cluster' },
    { name: 'no-dest-prefix', type: 'bool', default: false, usage: 'mirror key-values to the root of the destination cluster' },
    { name: 'dest-cert', type: 'string', default: '', usage: 'Identify secure client using this TLS certificate file for the destination cluster' },
    { name: 'dest-key', type: 'string', default: '', usage: 'Identify secure client using this TLS key file' },
    { name: 'dest-cacert', type: 'string', default: '', usage: 'Verify certificates of TLS enabled secure servers using this CA bundle' },
    { name: 'dest-insecure-transport', type: 'bool', default: true, usage: 'Disable transport security for client connections' },
    { name: 'dest-user', type: 'string', default: '', usage: 'Destination username[:password] for authentication (prompt if password is not supplied)' },
    { name: 'dest-password', type: 'string', default: '', usage: "Destination password for authentication (if this option is used, --user option shouldn't include password)" },
    { name: 'rev', type: 'int', default: 0n, usage: 'Specify the kv revision to start to mirror' },
    { name: 'max-txn-ops', type: 'uint', default: 128n, usage: 'Maximum number of operations permitted in a transaction during syncing updates.' },
  ],
  async run(ctx) {
    if (ctx.args.length !== 1) throw new CliError(ExitBadArgs, 'make-mirror takes one destination argument');
    const f = ctx.flags;
    const g = ctx.globals();
    ctx.display();
    const write = (s: string) => {
      ctx.out.write(s);
      ctx.out.flush();
    };
    const [user, password] = await destAuth(f.string('dest-user'), f.string('dest-password'), write);
    const dst = await makeClient(
      {
        ...g,
        endpoints: [ctx.args[0]!],
        cert: f.string('dest-cert'),
        key: f.string('dest-key'),
        cacert: f.string('dest-cacert'),
        insecureTransport: f.bool('dest-insecure-transport'),
        insecureSkipTlsVerify: false,
        discoverySrv: '',
        user,
        password,
      },
      ctx.errWrite,
    );
    try {
      const src = await ctx.client();
      const maxTxnOps = Number(f.get('max-txn-ops') as bigint);
      await makeMirror(
        src,
        dst,
        { prefix: f.string('prefix'), destPrefix: f.string('dest-prefix'), noDestPrefix: f.bool('no-dest-prefix'), rev: f.int('rev'), maxTxnOps: maxTxnOps > 0 ? maxTxnOps : Infinity },
        (total) => write(`${total}\n`),
      );
    } finally {
      dst.close();
    }
  },
};
