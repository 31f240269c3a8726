/**
 * @module commands/watch
 * `etcdctl watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]`
 * (etcdctl/ctlv3/command/watch_command.go in 3.4.23), printing what the watch client
 * (client/watch.ts, clientv3/watch.go semantics) delivers; what the user sees:
 *
 * - all watches share one gRPC Watch stream opened with `hasleader=true` metadata
 *   (clientv3.WithRequireLeader); creations are sent one at a time, each after the
 *   previous `created` response;
 * - `created` responses are not delivered; progress notifies are (a progress response
 *   with watch id -1, the answer to `progress`, goes to every established watch);
 * - fragmented responses are merged before delivery;
 * - a response with an error (compaction, cancel) is delivered and ends the watch; a
 *   creation refused by the server (e.g. `mvcc: watcher range is empty`) ends the watch
 *   with a synthesized `Canceled` response carrying the reason (and, as in clientv3, the
 *   reason stays attached to the stream and is also reported by watches that end later);
 * - when the stream breaks with Unavailable/Internal the stream is reopened forever and
 *   every watch is registered again from the revision clientv3 would use (after the first
 *   `created` of a watch without --rev that is the creation revision itself, so the
 *   event at that revision is delivered again: a 3.4 client quirk real etcdctl shows);
 *   any other stream error ends every watch with a canceled response.
 *
 * Output per delivered response (printWatchCh): `watch was canceled (<err>)` on stderr
 * when canceled, `progress notify: <rev>` on stdout for a progress notify, the printer's
 * `watch` output, then the exec command once per event. When the (non-interactive)
 * watch ends: `Error: watch is canceled by the server`, exit 5.
 */

import type * as childProcess from 'node:child_process';
import { statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { CommandContext, CommandSpec } from '../cli/command.js';
import { CliError, ExitBadArgs, ExitError, ExitInterrupted, ExitInvalidInput, SilentExit } from '../cli/exit-codes.js';
import { parseFlags, type FlagSpec } from '../cli/flags.js';
import { goQuote, goQuoteBytes } from '../cli/go-format.js';
import type { Printer } from '../cli/printer/printer.js';
import { isProgressNotify, responseErr, Watcher, type WatchChan, type WatchSpec } from '../client/watch.js';
import { bytes, FROM_KEY_END, prefixEnd } from '../client/range.js';
import { currentProcessArgs } from '../cli/process-args.js';
import { Event_EventType } from '../gen/mvccpb/kv_pb.js';

// ---------------------------------------------------------------------------
// Flags and argument parsing (watch_command.go)

/** watch's own flags. `--progress-notify` is etcdctl 3.5's; 3.4.23 does not have it. */
const WATCH_FLAGS: FlagSpec[] = [
  { name: 'interactive', short: 'i', type: 'bool', default: false, usage: 'Interactive mode' },
  { name: 'prefix', type: 'bool', default: false, usage: 'Watch on a prefix if prefix is set' },
  { name: 'rev', type: 'int', default: 0n, usage: 'Revision to start watching' },
  { name: 'prev-kv', type: 'bool', default: false, usage: 'get the previous key-value pair before the event happens' },
  { name: 'progress-notify', type: 'bool', default: false, usage: 'get periodic watch progress notification from server' },
];

const ERR_BAD_ARGS_NUM = 'bad number of arguments';
const ERR_CONFLICT_ENV = 'bad number of arguments (found conflicting environment key)';
const ERR_SEPARATOR = 'bad number of arguments (found separator --, but no commands)';
const ERR_INTERACTIVE = "args[0] must be 'watch' for interactive calls";
const ERR_RANGE_PREFIX = '`range_end` and `--prefix` are mutually exclusive';

/** A watch argument error; the caller chooses the exit code or message form. */
export class WatchArgsError extends Error {}

/** The options of one watch (from the command line, or from one interactive line). */
export interface WatchOptions {
  prefix: boolean;
  rev: bigint;
  prevKv: boolean;
  progressNotify: boolean;
}

/** parseWatchArgs' result. */
export interface ParsedWatchArgs {
  /** key and optional range_end (extra words are ignored, as etcdctl does) */
  watchArgs: string[];
  /** the command after `--`, or [] */
  execArgs: string[];
  /** interactive mode only: the options given on the line */
  opts?: WatchOptions;
}

/**
 * Parses the flags of one interactive `watch ...` line with a fresh flag set (so the
 * line's flags replace, not add to, the command line's, as in etcdctl).
 * @throws WatchArgsError with pflag's message (`pflag: help requested` for -h/--help)
 */
function parseLineFlags(words: string[]): { args: string[]; opts: WatchOptions } {
  let p;
  try {
    p = parseFlags(words, WATCH_FLAGS);
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    const help = e.message === 'unknown flag: --help' || e.message.startsWith("unknown shorthand flag: 'h' in");
    throw new WatchArgsError(help ? 'pflag: help requested' : e.message);
  }
  const v = p.values;
  return {
    args: p.args,
    opts: { prefix: v.bool('prefix'), rev: v.int('rev'), prevKv: v.bool('prev-kv'), progressNotify: v.bool('progress-notify') },
  };
}

/**
 * Splits watch arguments into the key range and the exec command, reproducing
 * etcdctl 3.4's parseWatchArgs exactly, quirks included (e.g. the key words are cut at
 * the last word equal to the first exec word).
 * @param osArgs the process arguments (etcdctl looks for `watch` and `--` in them)
 * @param commandArgs the positional arguments after flag parsing (`--` removed); in
 *   interactive mode the words of the line, starting with `watch`
 * @param envKey ETCDCTL_WATCH_KEY ('' when unset)
 * @param envRange ETCDCTL_WATCH_RANGE_END ('' when unset)
 * @throws WatchArgsError (`bad number of arguments...`, pflag errors)
 */
export function parseWatchArgs(
  osArgs: readonly string[],
  commandArgs: readonly string[],
  envKey: string,
  envRange: string,
  interactive: boolean,
): ParsedWatchArgs {
  let raw = [...osArgs];
  let watchArgs = [...commandArgs];
  const w = raw.indexOf('watch');
  if (w >= 0) raw = raw.slice(w + 1);

  if (interactive) {
    if (watchArgs[0] !== 'watch') throw new WatchArgsError(ERR_INTERACTIVE);
    watchArgs = watchArgs.slice(1);
    const execIdx = watchArgs.indexOf('--');
    const execExist = execIdx >= 0;
    if (execExist && execIdx === watchArgs.length - 1) throw new WatchArgsError(ERR_SEPARATOR);
    const pArgs = parseLineFlags(watchArgs).args;
    if (!execExist && envKey === '' && pArgs.length < 1) throw new WatchArgsError(ERR_BAD_ARGS_NUM);
    if (!execExist && pArgs.length > 0 && envKey !== '') throw new WatchArgsError(ERR_CONFLICT_ENV);
  } else {
    const execIdx = raw.indexOf('--');
    const execExist = execIdx >= 0;
    if (execExist && execIdx === raw.length - 1) throw new WatchArgsError(ERR_SEPARATOR);
    if (!execExist && raw.length < 1 && envKey === '') throw new WatchArgsError(ERR_BAD_ARGS_NUM);
    if (execExist && envKey !== '') {
      // A positional word before `--` besides the env key: walk both lists from the end;
      // reaching the separator in the raw list with words left over means a conflict.
      let ridx = raw.length - 1;
      for (let widx = watchArgs.length - 1; widx >= 0; widx--) {
        if (watchArgs[widx] === raw[ridx]) {
          ridx--;
          continue;
        }
        if (ridx === execIdx) throw new WatchArgsError(ERR_CONFLICT_ENV);
      }
    }
    if (!execExist && watchArgs.length > 0 && envKey !== '') throw new WatchArgsError(ERR_CONFLICT_ENV);
  }

  const withSep = interactive ? watchArgs : raw;
  const idx = withSep.indexOf('--');
  const foundSep = idx >= 0;
  const execArgs = foundSep ? withSep.slice(idx + 1) : [];
  let opts: WatchOptions | undefined;
  if (interactive) {
    const p = parseLineFlags(withSep);
    watchArgs = p.args;
    opts = p.opts;
  }
  if (envKey !== '') watchArgs = [envKey, ...(envRange !== '' ? [envRange] : []), ...watchArgs];
  if (!foundSep) return { watchArgs, execArgs: [], opts };

  // The positional words include the exec command: cut at the last occurrence of its
  // first word. (When there is none, etcdctl would panic; we keep no key words.)
  const first = withSep[idx + 1];
  let end = watchArgs.length - 1;
  while (end >= 0 && watchArgs[end] !== first) end--;
  return { watchArgs: watchArgs.slice(0, Math.max(end, 0)), execArgs, opts };
}

/**
 * etcdctl's getWatchChan argument handling: key, optional range_end, --prefix.
 * @param toBytes how a word becomes key bytes (UTF-8 for argv, raw bytes for stdin lines)
 * @throws WatchArgsError `bad number of arguments`, or range_end with --prefix
 */
export function watchSpec(args: readonly string[], o: WatchOptions, toBytes: (s: string) => Uint8Array): WatchSpec {
  if (args.length < 1) throw new WatchArgsError(ERR_BAD_ARGS_NUM);
  let key = toBytes(args[0]!);
  let end: Uint8Array = new Uint8Array(0);
  if (args.length === 2) {
    if (o.prefix) throw new WatchArgsError(ERR_RANGE_PREFIX);
    end = toBytes(args[1]!);
  }
  if (o.prefix) {
    if (key.length === 0) {
      key = FROM_KEY_END;
      end = FROM_KEY_END;
    } else {
      end = prefixEnd(key);
    }
  }
  return { key, end, rev: o.rev, prevKv: o.prevKv, progressNotify: o.progressNotify };
}

// ---------------------------------------------------------------------------
// Interactive lines (argify in etcdctl/ctlv3/command/util.go)

// Go's \s is [\t\n\f\r ]; lines are handled as byte strings (one char per byte).
const ARGIFY = /"(?:[^"\\]|\\[^\n])*"|'[^']*'|[^'"\t\n\f\r ][^\t\n\f\r ]*[^'"\t\n\f\r ]?/g;

/** bytes → one-char-per-byte string */
function toBin(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}
/** one-char-per-byte string → text (UTF-8 decoded) */
function fromBin(s: string): string {
  return Buffer.from(s, 'latin1').toString('utf8');
}
function binBytes(s: string): Uint8Array {
  return Buffer.from(s, 'latin1');
}

/**
 * Splits an interactive line into words like etcdctl's argify: double-quoted words are
 * unquoted with Go's rules; single-quoted words reproduce 3.4's slicing bug
 * (`w[1 : len(words)-1]`, i.e. by the number of words, not the word's length). Where
 * that slice would make etcdctl panic (out of range), we strip the quotes instead.
 * @param line the line as a byte string, without its newline
 * @returns the words as byte strings
 * @throws CliError(ExitInvalidInput, 'invalid syntax') for a bad escape in "..."
 */
export function argify(line: string): string[] {
  const words = [...line.matchAll(ARGIFY)].map((m) => m[0]);
  const n = words.length;
  return words.map((w) => {
    if (w.length === 0) return w;
    if (w[0] === "'") {
      const hi = n - 1;
      return hi >= 1 && hi <= w.length ? w.slice(1, hi) : w.slice(1, -1);
    }
    if (w[0] === '"') {
      const unq = goUnquoteDouble(Buffer.from(w, 'latin1').toString('utf8'));
      if (!unq) throw new CliError(ExitInvalidInput, 'invalid syntax');
      return Buffer.from(unq).toString('latin1');
    }
    return w;
  });
}

const SIMPLE_ESCAPES: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, '"': 34 };

/**
 * Go's strconv.Unquote for a double-quoted string (as fmt's `%q` verb scans it).
 * @param s the quoted token, quotes included
 * @returns the bytes, or undefined on a syntax error
 */
export function goUnquoteDouble(s: string): Uint8Array | undefined {
  if (s.length < 2 || s[0] !== '"' || s[s.length - 1] !== '"') return undefined;
  const body = s.slice(1, -1);
  const out: number[] = [];
  const pushCp = (cp: number) => out.push(...Buffer.from(String.fromCodePoint(cp), 'utf8'));
  const hexAt = (i: number, n: number): number | undefined => {
    const h = body.slice(i, i + n);
    return h.length === n && /^[0-9a-fA-F]+$/.test(h) ? parseInt(h, 16) : undefined;
  };
  let i = 0;
  while (i < body.length) {
    const cp = body.codePointAt(i)!;
    if (cp === 0x0a || cp === 0x22) return undefined;
    if (cp !== 0x5c) {
      pushCp(cp);
      i += cp > 0xffff ? 2 : 1;
      continue;
    }
    const c = body[i + 1];
    if (c === undefined) return undefined;
    i += 2;
    if (c in SIMPLE_ESCAPES) {
      out.push(SIMPLE_ESCAPES[c]!);
    } else if (c === 'x') {
      const v = hexAt(i, 2);
      if (v === undefined) return undefined;
      out.push(v);
      i += 2;
    } else if (c === 'u' || c === 'U') {
      const n = c === 'u' ? 4 : 8;
      const v = hexAt(i, n);
      if (v === undefined || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return undefined;
      pushCp(v);
      i += n;
    } else if (c >= '0' && c <= '7') {
      const o = body.slice(i, i + 2);
      if (!/^[0-7]{2}$/.test(o)) return undefined;
      const v = parseInt(c + o, 8);
      if (v > 255) return undefined;
      out.push(v);
      i += 2;
    } else {
      return undefined;
    }
  }
  return new Uint8Array(out);
}

/** Reads stdin line by line as byte strings (bufio.Reader.ReadString('\n')). */
class LineReader {
  private buf = Buffer.alloc(0);
  private ended = false;
  private wake: (() => void) | undefined;

  constructor(stream: NodeJS.ReadableStream) {
    const notify = () => {
      const w = this.wake;
      this.wake = undefined;
      w?.();
    };
    stream.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      notify();
    });
    stream.on('end', () => {
      this.ended = true;
      notify();
    });
    stream.on('error', () => {
      this.ended = true;
      notify();
    });
  }

  /** The next line including its `\n`, or null at end of input (a partial last line is dropped, as etcdctl fails on it). */
  async next(): Promise<string | null> {
    for (;;) {
      const i = this.buf.indexOf(10);
      if (i >= 0) {
        const line = this.buf.subarray(0, i + 1).toString('latin1');
        this.buf = this.buf.subarray(i + 1);
        return line;
      }
      if (this.ended) return null;
      await new Promise<void>((r) => (this.wake = r));
    }
  }
}


// ---------------------------------------------------------------------------
// Exec command (os/exec semantics of Go 1.19, which built etcdctl 3.4.23)

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  ENOTDIR: 'not a directory',
  ENOEXEC: 'exec format error',
  EISDIR: 'is a directory',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  E2BIG: 'argument list too long',
};

const SIGNAL_TEXT: Record<string, string> = {
  SIGHUP: 'hangup', SIGINT: 'interrupt', SIGQUIT: 'quit', SIGILL: 'illegal instruction',
  SIGTRAP: 'trace/breakpoint trap', SIGABRT: 'aborted', SIGBUS: 'bus error',
  SIGFPE: 'floating point exception', SIGKILL: 'killed', SIGUSR1: 'user defined signal 1',
  SIGSEGV: 'segmentation fault', SIGUSR2: 'user defined signal 2', SIGPIPE: 'broken pipe',
  SIGALRM: 'alarm clock', SIGTERM: 'terminated', SIGSTKFLT: 'stack fault', SIGCHLD: 'child exited',
  SIGCONT: 'continued', SIGSTOP: 'stopped (signal)', SIGTSTP: 'stopped', SIGTTIN: 'stopped (tty input)',
  SIGTTOU: 'stopped (tty output)', SIGURG: 'urgent I/O condition', SIGXCPU: 'CPU time limit exceeded',
  SIGXFSZ: 'file size limit exceeded', SIGVTALRM: 'virtual timer expired', SIGPROF: 'profiling timer expired',
  SIGWINCH: 'window changed', SIGIO: 'I/O possible', SIGPWR: 'power failure', SIGSYS: 'bad system call',
};

function isExecutable(p: string): boolean {
  try {
    const st = statSync(p);
    return !st.isDirectory() && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** exec.LookPath: the program to run for `file`, or Go's error text. */
function lookPath(file: string, pathEnv: string | undefined): { path?: string; err?: string } {
  const dirs = pathEnv ? pathEnv.split(':') : [];
  for (let dir of dirs) {
    if (dir === '') dir = '.';
    const p = join(dir, file);
    if (isExecutable(p)) {
      if (!isAbsolute(p)) return { err: `exec: ${goQuote(file)}: cannot run executable found relative to current directory` };
      return { path: p };
    }
  }
  return { err: `exec: ${goQuote(file)}: executable file not found in $PATH` };
}

/**
 * Runs the exec command for one event with stdout/stderr inherited and stdin from
 * /dev/null, as exec.Cmd.Run does.
 * @returns undefined on success, else Go's error text (`exit status 3`, `signal: killed`,
 *   `exec: "x": executable file not found in $PATH`, `fork/exec ./x: permission denied`)
 */
function runExec(args: readonly string[], env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const name = args[0] ?? '';
  if (name === '') return Promise.resolve('exec: no command');
  let file = name;
  if (!name.includes('/')) {
    const lp = lookPath(name, env.PATH);
    if (lp.err) return Promise.resolve(lp.err);
    file = lp.path!;
  }
  return new Promise((resolve) => {
    let settled = false;
    const done = (v: string | undefined) => {
      if (!settled) {
        settled = true;
        resolve(v);
      }
    };
    const { spawn } = process.getBuiltinModule('node:child_process') as typeof childProcess;
    const child = spawn(file, args.slice(1), { argv0: name, env, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', (e: NodeJS.ErrnoException) => done(`fork/exec ${file}: ${ERRNO_TEXT[e.code ?? ''] ?? e.message}`));
    child.once('exit', (code, signal) => {
      if (signal) done(`signal: ${SIGNAL_TEXT[signal] ?? signal}`);
      else if (code !== 0) done(`exit status ${code}`);
      else done(undefined);
    });
  });
}

/** Go's `%q` of a []string: `["a" "b"]`. */
function quoteList(xs: readonly string[]): string {
  return `[${xs.map(goQuote).join(' ')}]`;
}

// ---------------------------------------------------------------------------
// The command

/** Collects the first fatal error of background work (etcdctl's os.Exit from a goroutine). */
class Fatal {
  readonly promise: Promise<never>;
  fail!: (e: unknown) => void;
  constructor() {
    this.promise = new Promise<never>((_, reject) => (this.fail = reject));
    this.promise.catch(() => undefined);
  }
}

/**
 * etcdctl's printWatchCh: prints every response of one watch and runs the exec command
 * per event. Returns when the watch channel closes.
 * @throws SilentExit(1) after `command [...] error (...)` when the exec command fails;
 *   CliError from the printer (e.g. `table not supported as output format`)
 */
async function printWatchCh(ctx: CommandContext, display: Printer, ch: WatchChan, execArgs: readonly string[]): Promise<void> {
  for (;;) {
    const d = await ch.next();
    if (!d) return;
    const r = d.resp;
    if (r.canceled) ctx.errWrite(`watch was canceled (${responseErr(d)})\n`);
    if (isProgressNotify(r)) ctx.out.write(`progress notify: ${r.header?.revision ?? 0n}\n`);
    display.watch(r);
    ctx.out.flush();
    if (execArgs.length === 0) continue;
    for (const ev of r.events) {
      const env: NodeJS.ProcessEnv = {
        ...ctx.env,
        ETCD_WATCH_REVISION: String(r.header?.revision ?? 0n),
        ETCD_WATCH_EVENT_TYPE: goQuote(Event_EventType[ev.type] ?? String(ev.type)),
        ETCD_WATCH_KEY: goQuoteBytes(ev.kv?.key ?? new Uint8Array(0)),
        ETCD_WATCH_VALUE: goQuoteBytes(ev.kv?.value ?? new Uint8Array(0)),
      };
      const err = await runExec(execArgs, env);
      if (err !== undefined) {
        ctx.errWrite(`command ${quoteList(execArgs)} error (${err})\n`);
        throw new SilentExit(ExitError);
      }
    }
  }
}

function optionsFromFlags(ctx: CommandContext): WatchOptions {
  const f = ctx.flags;
  return { prefix: f.bool('prefix'), rev: f.int('rev'), prevKv: f.bool('prev-kv'), progressNotify: f.bool('progress-notify') };
}

/** Non-interactive watch: one watch until the server ends it. */
async function watchOnce(ctx: CommandContext, envKey: string, envRange: string): Promise<void> {
  let parsed: ParsedWatchArgs;
  try {
    // etcdctl scans the raw process arguments (os.Args) for `watch` and `--`.
    parsed = parseWatchArgs([...currentProcessArgs()], ctx.args, envKey, envRange, false);
  } catch (e) {
    if (e instanceof WatchArgsError) throw new CliError(ExitBadArgs, e.message);
    throw e;
  }
  const display = ctx.display();
  const client = await ctx.client();
  let spec: WatchSpec;
  try {
    spec = watchSpec(parsed.watchArgs, optionsFromFlags(ctx), bytes);
  } catch (e) {
    if (e instanceof WatchArgsError) throw new CliError(ExitBadArgs, e.message);
    throw e;
  }
  const watcher = new Watcher(client);
  const ch = await watcher.watch(spec);
  await printWatchCh(ctx, display, ch, parsed.execArgs);
  watcher.close();
  throw new CliError(ExitInterrupted, 'watch is canceled by the server');
}

/** Interactive watch (`-i`): `watch ...` and `progress` lines from stdin until EOF (exit 3). */
async function watchInteractive(ctx: CommandContext, envKey: string, envRange: string): Promise<void> {
  const display = ctx.display();
  const client = await ctx.client();
  const watcher = new Watcher(client);
  const fatal = new Fatal();
  const reader = new LineReader(process.stdin);
  const key = toBin(envKey);
  const range = toBin(envRange);

  const loop = async (): Promise<never> => {
    for (;;) {
      const line = await reader.next();
      if (line === null) throw new CliError(ExitInvalidInput, 'Error reading watch request line: EOF');
      const l = line.slice(0, -1);
      const args = argify(l);
      const shown = fromBin(l);
      if (args.length < 1) {
        ctx.errWrite(`Invalid command: ${shown} (watch and progress supported)\n`);
        continue;
      }
      if (args[0] === 'watch') {
        if (args.length < 2 && key === '') {
          ctx.errWrite(`Invalid command ${shown} (command type or key is not provided)\n`);
          continue;
        }
        let parsed: ParsedWatchArgs;
        try {
          parsed = parseWatchArgs([], args, key, range, true);
        } catch (e) {
          if (e instanceof WatchArgsError) throw new CliError(ExitBadArgs, fromBin(e.message));
          throw e;
        }
        let spec: WatchSpec;
        try {
          spec = watchSpec(parsed.watchArgs, parsed.opts!, binBytes);
        } catch (e) {
          if (!(e instanceof WatchArgsError)) throw e;
          ctx.errWrite(`Invalid command ${shown} (${e.message})\n`);
          continue;
        }
        const ch = await watcher.watch(spec);
        printWatchCh(ctx, display, ch, parsed.execArgs.map(fromBin)).catch((e: unknown) => fatal.fail(e));
      } else if (args[0] === 'progress') {
        watcher.requestProgress();
      } else {
        ctx.errWrite(`Invalid command ${shown} (only support watch)\n`);
      }
    }
  };
  await Promise.race([loop(), fatal.promise]);
}

/**
 * `etcdctl watch`. Argument errors exit 128 before connecting; the watch ends with
 * `Error: watch is canceled by the server` (exit 5); interactive mode ends at EOF with
 * `Error: Error reading watch request line: EOF` (exit 3); a failing exec command
 * exits 1 after `command [...] error (...)`. SIGINT/SIGTERM kill the process (no
 * handler, like etcdctl).
 */
export const watchCommand: CommandSpec = {
  use: 'watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]',
  short: 'Watches events stream on keys or prefixes',
  flags: WATCH_FLAGS,
  async run(ctx) {
    const envKey = ctx.env.ETCDCTL_WATCH_KEY ?? '';
    const envRange = ctx.env.ETCDCTL_WATCH_RANGE_END ?? '';
    if (envKey === '' && envRange !== '') {
      throw new CliError(ExitBadArgs, `ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END=${goQuote(envRange)}`);
    }
    if (ctx.flags.bool('interactive')) await watchInteractive(ctx, envKey, envRange);
    else await watchOnce(ctx, envKey, envRange);
  },
};
