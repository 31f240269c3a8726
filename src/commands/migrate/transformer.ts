/**
 * @module commands/migrate/transformer
 * etcdctl 3.4 `migrate`'s transformer protocol (migrate_command.go writeStore,
 * readKeys, startTransformer, defaultTransformer):
 *
 * - input: every node of the v2 store below `/1`, depth first in key order, as the
 *   JSON of v2store.NodeExtern (Go's encoding/json: `key`, `value`, `dir`,
 *   `expiration`, `ttl`, `modifiedIndex`, `createdIndex`, empty fields left out),
 *   the objects written one after the other without separators. The `/1` prefix is
 *   cut from keys (`/1/foo` → `/foo`; the root becomes `/`), directories are sent
 *   without their children, and with `--no-ttl` nodes with a TTL are not sent;
 * - output: for each v3 key, its length as a little-endian int64, then an
 *   mvccpb.KeyValue of that many bytes. Reading stops, silently, at the end of the
 *   stream or at the first frame that is cut short or does not decode.
 *
 * The default transformer turns each key (not directory) into {key, value,
 * create_revision: createdIndex, mod_revision: modifiedIndex, version: 1}, without a
 * lease. An external transformer is a program run without arguments (looked up in
 * $PATH when its name has no slash) with the JSON on its stdin, the frames on its
 * stdout and its stderr passed through.
 */
import type * as childProcessNs from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { GO_ERRNO_TEXT } from '../../util/go-errors.js';
import { nodeJson, type NodeExtern } from '../../util/v2store/event.js';
import { decodeKeyValue, type MvccKeyValue } from './backend.js';

const enc = new TextEncoder();

/**
 * migrate's writeKeys: the nodes sent to the transformer (keys cut of their `/1`
 * prefix, directories without children), in the order they are sent.
 */
export function nodesToSend(root: NodeExtern, noTtl: boolean): NodeExtern[] {
  const out: NodeExtern[] = [];
  const walk = (n: NodeExtern) => {
    const children = n.nodes ?? [];
    const sent: NodeExtern = { ...n, key: n.key.slice(2) || '/' };
    delete sent.nodes;
    if (!noTtl || !n.ttl) out.push(sent);
    for (const c of children) walk(c);
  };
  walk(root);
  return out;
}

/** The JSON stream of {@link nodesToSend}'s nodes (json.Marshal of each, concatenated). */
export function nodesJson(nodes: readonly NodeExtern[]): string {
  return nodes.map(nodeJson).join('');
}

/** The default transformer's transform: undefined for directories. */
export function defaultTransform(n: NodeExtern): MvccKeyValue | undefined {
  if (n.dir) return undefined;
  return {
    key: enc.encode(n.key),
    value: enc.encode(n.value ?? ''),
    createRevision: BigInt(n.createdIndex),
    modRevision: BigInt(n.modifiedIndex),
    version: 1n,
    lease: 0n,
  };
}

/**
 * Decodes the transformer's output frames (readKeys): the KeyValues up to the end of
 * the stream or the first bad frame.
 */
export function decodeFrames(b: Buffer): MvccKeyValue[] {
  const out: MvccKeyValue[] = [];
  let off = 0;
  while (off + 8 <= b.length) {
    const len = b.readBigInt64LE(off);
    if (len < 0n || BigInt(off + 8) + len > BigInt(b.length)) break;
    const end = off + 8 + Number(len);
    try {
      out.push(decodeKeyValue(b.subarray(off + 8, end)));
    } catch {
      break;
    }
    off = end;
  }
  return out;
}

/** Go's os/exec error texts for a program that cannot be started. */
export class TransformerStartError extends Error {
  override name = 'TransformerStartError';
}

/** exec.LookPath for a name without a slash: the first executable regular file in $PATH. */
function lookPath(name: string, env: NodeJS.ProcessEnv): string {
  for (const dir of (env['PATH'] ?? '').split(':')) {
    const p = join(dir === '' ? '.' : dir, name);
    try {
      if (statSync(p).isDirectory()) continue;
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  throw new TransformerStartError(`exec: ${JSON.stringify(name)}: executable file not found in $PATH`);
}

/** Go's ProcessState.String() for how a child ended: `exit status N` or `signal: <name>`. */
function exitText(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal) {
    const names: Record<string, string> = {
      SIGKILL: 'killed', SIGTERM: 'terminated', SIGINT: 'interrupt', SIGSEGV: 'segmentation fault', SIGABRT: 'aborted',
      SIGPIPE: 'broken pipe', SIGHUP: 'hangup', SIGQUIT: 'quit', SIGBUS: 'bus error', SIGFPE: 'floating point exception',
    };
    return `signal: ${names[signal] ?? signal}`;
  }
  return `exit status ${code ?? 0}`;
}

/** A running external transformer (startTransformer). */
export class ExternalTransformer {
  private readonly chunks: Buffer[] = [];
  private readonly exited: Promise<string | undefined>;

  private constructor(private readonly child: ChildProcess) {
    child.stdout!.on('data', (c: Buffer) => this.chunks.push(c));
    // a transformer that exits without reading all of its input
    child.stdin!.on('error', () => {});
    const stdoutDone = new Promise<void>((resolve) => child.stdout!.on('close', () => resolve()));
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        void stdoutDone.then(() => resolve(code === 0 ? undefined : exitText(code, signal)));
      });
    });
  }

  /**
   * Starts `program` (cmd.Start).
   * @throws TransformerStartError with Go's text: `exec: "<name>": executable file not
   *   found in $PATH`, `fork/exec <path>: no such file or directory`, `... permission denied`
   */
  static async start(program: string, env: NodeJS.ProcessEnv): Promise<ExternalTransformer> {
    const path = program.includes('/') ? program : lookPath(program, env);
    // loaded here, not at the CLI's every start (node:child_process also loads node:dgram)
    const { spawn } = process.getBuiltinModule('node:child_process') as typeof childProcessNs;
    const child = spawn(path, [], { stdio: ['pipe', 'pipe', 'inherit'], env });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (e: NodeJS.ErrnoException) => {
        const text = (e.code && GO_ERRNO_TEXT[e.code]) ?? e.message;
        reject(new TransformerStartError(`fork/exec ${path}: ${text}`));
      });
    });
    return new ExternalTransformer(child);
  }

  /** Sends the JSON stream and closes the transformer's stdin. */
  send(json: string): void {
    this.child.stdin!.end(json);
  }

  /**
   * Waits for the transformer to exit (cmd.Wait).
   * @returns the KeyValues it wrote, and Go's error text when it failed
   */
  async finish(): Promise<{ kvs: MvccKeyValue[]; error?: string }> {
    const error = await this.exited;
    const kvs = decodeFrames(Buffer.concat(this.chunks));
    return error === undefined ? { kvs } : { kvs, error };
  }

  /** Leaves the transformer running on its own, its stdin closed (etcdctl exiting early). */
  abandon(): void {
    this.child.stdin!.end();
    // its output is no longer wanted, but its pipe stays open until we exit (as etcdctl's)
    (this.child.stdout as Socket).unref();
    this.child.unref();
  }
}
