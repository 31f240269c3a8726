/**
 * @module commands/lock
 * `etcdctl lock <lockname> [exec-command arg1 arg2 ...]` (etcdctl/ctlv3/command/
 * lock_command.go in 3.4.23), on the mutex recipe of client/concurrency:
 *
 * - a session lease with `--ttl` seconds (default 10; <= 0 means 60) kept alive;
 * - SIGINT/SIGTERM are caught from then on: while waiting for the lock they cancel the
 *   wait (`Error: context canceled`, exit 1, the waiter's key deleted); while holding,
 *   they release the lock and the command exits 0; during an exec command they are
 *   noted and otherwise ignored (the child runs to its end);
 * - without a command: prints the lock key through the get printer (simple: the key
 *   and an empty value line), holds until a signal, deletes the key, exits 0; if the
 *   session lease is lost first: `Error: session expired`, exit 1;
 * - with a command: runs it (stdin /dev/null, stdout/stderr inherited) with
 *   `ETCD_LOCK_KEY=<name>/<lease hex>` and `ETCD_LOCK_REV=<revision when acquired>`
 *   in front of our environment (an inherited variable of the same name wins, as with
 *   Go's os/exec), then deletes the key.
 *
 * Deliberate difference from 3.4.23: when the command fails, 3.4 prints
 * `Error: exit status N` and exits 1; we print the same line but exit N, as etcdctl 3.5+
 * does (255 when the child was killed by a signal, Go's ExitStatus() of -1), so scripts
 * can see the child's status. Failures to start the command are exit 1 in both.
 * The session lease is not revoked at the end (etcdctl leaves it to expire).
 */

import type * as childProcess from 'node:child_process';
import { statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { CommandContext, CommandSpec } from '../cli/command.js';
import { CliError, ExitBadArgs, ExitError } from '../cli/exit-codes.js';
import { goQuote } from '../cli/go-format.js';
import { Mutex, Session } from '../client/concurrency.js';
import { bytes } from '../client/range.js';

const ERR_ARGS = 'lock takes a lock name argument and an optional command to execute';

let armed = false;
let caught: AbortController | undefined;

/** What bin/etcdctl leaves on globalThis: a signal caught while the bundle loaded, and its handler. */
interface EarlySignals {
  __etcdctlEarlySignal?: NodeJS.Signals;
  __etcdctlEarlySignalHandler?: (sig: NodeJS.Signals) => void;
}

/**
 * Takes back SIGINT/SIGTERM from bin/etcdctl's start-up handler and returns the
 * signal it caught, if any (undefined when there was none or no handler).
 */
function takeEarlySignal(): NodeJS.Signals | undefined {
  const g = globalThis as EarlySignals;
  const h = g.__etcdctlEarlySignalHandler;
  if (h === undefined) return undefined;
  process.off('SIGINT', h);
  process.off('SIGTERM', h);
  g.__etcdctlEarlySignalHandler = undefined;
  return g.__etcdctlEarlySignal;
}

/**
 * For commands other than lock/elect: removes bin/etcdctl's start-up handler and, if a
 * signal arrived meanwhile, ends the process by that signal as it would have without
 * the handler.
 */
export function releaseEarlySignals(): void {
  const sig = takeEarlySignal();
  if (sig !== undefined) process.kill(process.pid, sig);
}

/** Signal numbers of the signals lock and elect catch. */
const SIGNO: Record<string, number> = { SIGINT: 2, SIGTERM: 15 };

/**
 * How long a signal that came before catchSignals() waits for it (ms): the real
 * etcdctl connects and creates its session within milliseconds of starting, then
 * catches signals; we may still be loading or connecting then.
 */
const SIGNAL_GRACE_MS = 2000;
let pending: { sig: NodeJS.Signals; timer: NodeJS.Timeout } | undefined;

/**
 * Installs the SIGINT/SIGTERM handlers at the start of `lock`/`elect` (a signal
 * caught by bin/etcdctl while this process was still loading counts as arriving
 * now). A signal that comes before catchSignals() is held for up to SIGNAL_GRACE_MS:
 * if catchSignals() comes in that time (the server answered; the real etcdctl would
 * have been waiting already, as etcd's e2e tests expect when they interrupt a `lock`
 * or `elect` soon after starting it) the command sees it as a signal during the
 * wait (`Error: context canceled`, exit 1); otherwise (still connecting, where the
 * real etcdctl dies of the signal) the process ends with the status a shell sees
 * for that death (128 + signal number) after flushing what was printed, so a caller
 * waiting for it sees an exit status.
 */
export function armSignals(flush: () => void): void {
  if (armed) return;
  armed = true;
  const h = (sig: NodeJS.Signals) => {
    if (caught) {
      if (!caught.signal.aborted) caught.abort();
      return;
    }
    if (pending) return;
    const timer = setTimeout(() => {
      flush();
      process.exit(128 + (SIGNO[sig] ?? 0));
    }, SIGNAL_GRACE_MS);
    pending = { sig, timer };
  };
  process.on('SIGINT', h);
  process.on('SIGTERM', h);
  const early = takeEarlySignal();
  if (early !== undefined) h(early);
}

/**
 * Catches SIGINT and SIGTERM for the rest of the process (Go's signal.Notify): the
 * first one aborts the returned controller (at once if one is held, see armSignals);
 * later ones are ignored.
 */
export function catchSignals(): AbortController {
  caught = new AbortController();
  armSignals(() => {});
  if (pending) {
    clearTimeout(pending.timer);
    caught.abort();
  }
  return caught;
}

/** A promise resolved when `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((r) => signal.addEventListener('abort', () => r(), { once: true }));
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  ENOTDIR: 'not a directory',
  ENOEXEC: 'exec format error',
  EISDIR: 'is a directory',
  E2BIG: 'argument list too long',
};

const SIGNAL_TEXT: Record<string, string> = {
  SIGHUP: 'hangup', SIGINT: 'interrupt', SIGQUIT: 'quit', SIGABRT: 'aborted', SIGKILL: 'killed',
  SIGSEGV: 'segmentation fault', SIGPIPE: 'broken pipe', SIGALRM: 'alarm clock', SIGTERM: 'terminated',
  SIGUSR1: 'user defined signal 1', SIGUSR2: 'user defined signal 2', SIGBUS: 'bus error', SIGFPE: 'floating point exception',
};

/** How an exec command ended: Go's error text and the exit code etcdctl 3.5+ uses. */
interface ExecResult {
  err?: string;
  code: number;
}

/** Go's exec.LookPath for a name without a slash. */
function lookPath(file: string, pathEnv: string | undefined): { path?: string; err?: string } {
  for (let dir of (pathEnv ?? '').split(':')) {
    if (pathEnv === undefined || pathEnv === '') break;
    if (dir === '') dir = '.';
    const p = join(dir, file);
    try {
      const st = statSync(p);
      if (st.isDirectory() || (st.mode & 0o111) === 0) continue;
    } catch {
      continue;
    }
    if (!isAbsolute(p)) return { err: `exec: ${goQuote(file)}: cannot run executable found relative to current directory` };
    return { path: p };
  }
  return { err: `exec: ${goQuote(file)}: executable file not found in $PATH` };
}

/**
 * exec.Cmd.Run with stdin from /dev/null and stdout/stderr inherited.
 * @returns no `err` on success; else Go's error text (`exit status 3`,
 *   `signal: terminated`, `exec: "x": executable file not found in $PATH`) and the
 *   exit code: the child's, 255 for a signal, 1 when it could not be started
 */
function runCommand(args: readonly string[], env: NodeJS.ProcessEnv): Promise<ExecResult> {
  const name = args[0]!;
  let file = name;
  if (!name.includes('/')) {
    const lp = lookPath(name, env.PATH);
    if (lp.err) return Promise.resolve({ err: lp.err, code: ExitError });
    file = lp.path!;
  }
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: ExecResult) => {
      if (!settled) {
        settled = true;
        resolve(r);
      }
    };
    const { spawn } = process.getBuiltinModule('node:child_process') as typeof childProcess;
    const child = spawn(file, args.slice(1), { argv0: name, env, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', (e: NodeJS.ErrnoException) => done({ err: `fork/exec ${file}: ${ERRNO_TEXT[e.code ?? ''] ?? e.message}`, code: ExitError }));
    child.once('exit', (code, sig) => {
      if (sig) done({ err: `signal: ${SIGNAL_TEXT[sig] ?? sig}`, code: 255 });
      else if (code !== 0) done({ err: `exit status ${code}`, code: code ?? ExitError });
      else done({ code: 0 });
    });
  });
}

/** lockUntilSignal: see the module comment. */
async function lockUntilSignal(ctx: CommandContext, name: string, cmdArgs: string[]): Promise<void> {
  const display = ctx.display();
  const client = await ctx.client();
  const session = await Session.create(client, Number(ctx.flags.int('ttl')));
  const m = new Mutex(session, name);
  const sig = catchSignals();

  await m.lock(sig.signal);

  if (cmdArgs.length > 0) {
    const env: NodeJS.ProcessEnv = { ETCD_LOCK_KEY: m.key, ETCD_LOCK_REV: String(m.header?.revision ?? 0n), ...process.env };
    ctx.out.flush();
    const r = await runCommand(cmdArgs, env);
    await m.unlock();
    if (r.err !== undefined) throw new CliError(r.code, r.err);
    return;
  }

  const resp = await client.range({ key: bytes(m.key) }, { timeoutMs: 0, signal: sig.signal });
  if (resp.kvs.length === 0) throw new CliError(ExitError, 'lock lost on init');
  display.get(resp);
  ctx.out.flush();

  const which = await Promise.race([aborted(sig.signal).then(() => 'signal' as const), session.done.then(() => 'expired' as const)]);
  if (which === 'signal') {
    await m.unlock();
    session.orphan();
    return;
  }
  throw new CliError(ExitError, 'session expired');
}

/** `lock <lockname> [exec-command arg1 arg2 ...]` with `--ttl` (seconds, default 10). */
export const lockCommand: CommandSpec = {
  use: 'lock <lockname> [exec-command arg1 arg2 ...]',
  short: 'Acquires a named lock',
  flags: [{ name: 'ttl', type: 'int', default: 10n, usage: 'timeout for session' }],
  onFound: armSignals,
  async run(ctx) {
    if (ctx.args.length === 0) throw new CliError(ExitBadArgs, ERR_ARGS);
    await lockUntilSignal(ctx, ctx.args[0]!, ctx.args.slice(1));
  },
};
