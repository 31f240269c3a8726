/**
 * @module commands/snapshot/save
 * `etcdctl snapshot save <filename>` (etcdctl snapshot_command.go and clientv3/snapshot
 * v3_snapshot.go Save): streams Maintenance.Snapshot of the one selected endpoint into
 * `<filename>.part` (mode 0600), checks that the size is a multiple of 512 plus a
 * 32-byte sha256 trailer, fsyncs, renames the file to `<filename>` and prints
 * `Snapshot saved at <filename>`. The `.part` file is removed on every failure.
 *
 * - Exactly one endpoint: `snapshot must be requested to one selected node, not
 *   multiple [a b]`. Every failure of the save itself exits 5 (ExitInterrupted).
 * - No deadline unless --command-timeout was set (on the command line or through
 *   ETCDCTL_COMMAND_TIMEOUT, which pflag also marks as set); without one etcdctl waits
 *   for an unreachable endpoint indefinitely, and so does this command.
 * - Deliberate difference: etcdctl 3.4 only checks that the trailer is present; this
 *   command also verifies that the trailer is the sha256 of the data before it
 *   (`expected sha256 [...], got [...]`, the wording of etcd's restore check).
 * - Logs on stderr as etcdctl does: its snapshot manager's zap.NewProduction lines
 *   (`ts` in epoch seconds: `created temporary db file`, `fetching snapshot`, `fetched
 *   snapshot` with size and time taken, `saved`) between the client's own lines.
 * - While receiving, a progress line is also drawn on stderr when stderr is a terminal.
 */

import type * as cryptoNs from 'node:crypto';
import { closeSync, constants, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import type { Stats } from 'node:fs';
import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs, ExitBadConnection, ExitInterrupted } from '../../cli/exit-codes.js';
import { GoParseError, parseGoDuration } from '../../cli/go-format.js';
import { humanizeBytes } from '../../cli/printer/maintenance.js';
import { EtcdError } from '../../client/errors.js';
import { zapJsonLogger } from '../../client/log.js';
import { goPathError } from '../../util/go-errors.js';

const SHA256_SIZE = 32;

/** v3_snapshot.go hasChecksum: a snapshot of `n` bytes ends with a sha256 (n mod 512 = 32). */
export function hasChecksum(n: number): boolean {
  return n % 512 === SHA256_SIZE;
}

/** Go's `%v` of a byte slice: `[1 2 3]`. */
export function goByteSlice(b: Uint8Array): string {
  return `[${Array.from(b).join(' ')}]`;
}

/**
 * Whether etcdctl would apply a deadline: `--command-timeout` was given, or
 * ETCDCTL_COMMAND_TIMEOUT holds a valid duration (pflag marks env-set flags as changed).
 */
function commandTimeoutSet(changed: boolean, env: NodeJS.ProcessEnv): boolean {
  if (changed) return true;
  const v = env.ETCDCTL_COMMAND_TIMEOUT;
  if (!v) return false;
  try {
    parseGoDuration(v);
    return true;
  } catch (e) {
    if (e instanceof GoParseError) return false;
    throw e;
  }
}

/** A one-line progress display on a terminal's stderr: received bytes of the total. */
class Progress {
  private last = 0;
  private total = 0;
  private drawn = false;
  constructor(private readonly tty: NodeJS.WriteStream | undefined) {}

  update(received: number, remaining: bigint): void {
    if (!this.tty) return;
    if (this.total === 0) this.total = received + Number(remaining);
    const now = Date.now();
    if (now - this.last < 100 && remaining !== 0n) return;
    this.last = now;
    const width = 30;
    const frac = this.total > 0 ? Math.min(1, received / this.total) : 0;
    const filled = Math.round(frac * width);
    const bar = '='.repeat(filled) + ' '.repeat(width - filled);
    this.tty.write(`\r\x1b[K[${bar}] ${Math.floor(frac * 100)}% ${humanizeBytes(received)} / ${humanizeBytes(this.total)}`);
    this.drawn = true;
  }

  done(): void {
    if (this.drawn) this.tty?.write('\r\x1b[K');
    this.drawn = false;
  }
}

export const snapshotSaveCommand: CommandSpec = {
  use: 'save <filename>',
  short: 'Stores an etcd node backend snapshot to a given file',
  async run(ctx) {
    if (ctx.args.length !== 1) throw new CliError(ExitBadArgs, 'snapshot save expects one argument');
    const g = ctx.globals();
    ctx.display();
    await (await import('../../cli/connect.js')).discoverEndpoints(g, ctx.errWrite);
    if (g.endpoints.length !== 1) {
      throw new CliError(ExitInterrupted, `snapshot must be requested to one selected node, not multiple [${g.endpoints.join(' ')}]`);
    }
    const timeoutMs = commandTimeoutSet(ctx.flags.changed.has('command-timeout'), ctx.env) ? g.commandTimeoutMs : 0;
    let client;
    try {
      client = await ctx.client();
    } catch (e) {
      // clientv3.New fails inside Save (authentication): exit 5, not 2
      if (e instanceof CliError && e.code === ExitBadConnection) throw new CliError(ExitInterrupted, e.message, e.detail);
      throw e;
    }
    const path = ctx.args[0]!;
    const part = path + '.part';
    // etcdctl's snapshot manager logger: zap.NewProduction (epoch time stamps)
    const lg = zapJsonLogger(ctx.errWrite, 'info', undefined, 'epoch');
    const removePart = () => {
      try {
        rmSync(part, { force: true });
      } catch {
        /* a directory or not ours: leave it */
      }
    };
    const onSignal = (sig: NodeJS.Signals) => {
      removePart();
      process.kill(process.pid, sig);
    };
    let fd: number | undefined;
    const progress = new Progress(process.stderr.isTTY ? process.stderr : undefined);
    try {
      try {
        fd = openSync(part, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
      } catch (e) {
        throw new CliError(ExitInterrupted, `could not open ${part} (${goPathError('open', part, e)})`);
      }
      lg.log('info', 'snapshot/v3_snapshot.go:119', 'created temporary db file', [['path', part]]);
      const started = process.hrtime.bigint();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      // everything but the last 32 bytes goes into the hash; those are the trailer
      const sha = (process.getBuiltinModule('node:crypto') as typeof cryptoNs).createHash('sha256');
      let tail: Buffer = Buffer.alloc(0);
      let size = 0;
      const onOpen = () => lg.log('info', 'snapshot/v3_snapshot.go:127', 'fetching snapshot', [['endpoint', g.endpoints[0]!]]);
      for await (const { blob, remainingBytes } of client.snapshot({ timeoutMs, onOpen })) {
        let off = 0;
        try {
          while (off < blob.length) off += writeSync(fd, blob, off, blob.length - off);
        } catch (e) {
          throw new CliError(ExitInterrupted, goPathError('write', part, e));
        }
        size += blob.length;
        const joined = tail.length === 0 ? Buffer.from(blob) : Buffer.concat([tail, blob]);
        const cut = Math.max(0, joined.length - SHA256_SIZE);
        if (cut > 0) sha.update(joined.subarray(0, cut));
        tail = joined.subarray(cut);
        progress.update(size, remainingBytes);
      }
      progress.done();
      if (!hasChecksum(size)) throw new CliError(ExitInterrupted, `sha256 checksum not found [bytes: ${size}]`);
      const got = sha.digest();
      if (!got.equals(tail)) throw new CliError(ExitInterrupted, `expected sha256 ${goByteSlice(tail)}, got ${goByteSlice(got)}`);
      fsyncSync(fd);
      closeSync(fd);
      fd = undefined;
      lg.log('info', 'snapshot/v3_snapshot.go:142', 'fetched snapshot', [
        ['endpoint', g.endpoints[0]!],
        ['size', humanizeBytes(size)],
        ['took', Number(process.hrtime.bigint() - started) / 1e9],
      ]);
      let target: Stats | undefined;
      try {
        target = statSync(path);
      } catch {
        /* absent: fine */
      }
      try {
        // Go's os.Rename refuses to replace a directory with EEXIST
        if (target?.isDirectory()) throw Object.assign(new Error('file exists'), { code: 'EEXIST' });
        renameSync(part, path);
      } catch (e) {
        throw new CliError(ExitInterrupted, `could not rename ${part} to ${path} (${goPathError('rename', `${part} ${path}`, e)})`);
      }
      lg.log('info', 'snapshot/v3_snapshot.go:152', 'saved', [['path', path]]);
    } catch (e) {
      progress.done();
      if (e instanceof EtcdError) throw new CliError(ExitInterrupted, e.message, e.reason);
      if (e instanceof CliError) throw e;
      throw new CliError(ExitInterrupted, (e as Error).message);
    } finally {
      if (fd !== undefined) closeSync(fd);
      removePart();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    ctx.out.write(`Snapshot saved at ${path}\n`);
  },
};
