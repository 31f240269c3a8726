// Long-running CLI processes in tests (lock, elect, make-mirror, watch...): start one,
// collect its output, wait (bounded) for a condition, and stop it with a signal.
// Every process started here is SIGKILLed when the test process exits.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { bytesToText, cleanEnv } from './run.js';

/** A running (or finished) child process and what it printed. */
export interface Proc {
  child: ChildProcess;
  out: Buffer[];
  err: Buffer[];
  exited?: { code: number | null; signal: NodeJS.Signals | null };
  /** resolves when the process has exited and its pipes are closed */
  exit: Promise<void>;
}

/** Default bound for waits (ms). */
export const WAIT_MS = 15_000;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const LIVE = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of LIVE) c.kill('SIGKILL');
});

/** SIGKILLs every process started with startProc that is still running (for after() hooks). */
export function killAllProcs(): void {
  for (const c of LIVE) c.kill('SIGKILL');
}

/** Starts `bin args` with a clean environment (no ETCDCTL_*), stdin closed. */
export function startProc(bin: string, args: string[]): Proc {
  const child = spawn(bin, args, { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  LIVE.add(child);
  const p: Proc = { child, out: [], err: [], exit: Promise.resolve() };
  child.stdout!.on('data', (b: Buffer) => p.out.push(b));
  child.stderr!.on('data', (b: Buffer) => p.err.push(b));
  p.exit = new Promise((resolve) => {
    child.once('close', (code, signal) => {
      p.exited = { code, signal };
      LIVE.delete(child);
      resolve();
    });
    child.once('error', (e) => {
      p.err.push(Buffer.from(`[test] spawn error: ${e.message}`));
      p.exited = { code: null, signal: null };
      LIVE.delete(child);
      resolve();
    });
  });
  return p;
}

/** stdout so far, as text (binary bytes kept visible). */
export const procStdout = (p: Proc) => bytesToText(Buffer.concat(p.out));
/** stderr so far. */
export const procStderr = (p: Proc) => Buffer.concat(p.err).toString('utf8');
/** One line for assertion messages. */
export const describeProc = (label: string, p: Proc) =>
  `${label}: exited=${JSON.stringify(p.exited)} stdout=${JSON.stringify(procStdout(p))} stderr=${JSON.stringify(procStderr(p))}`;

/** Polls `cond` every 50 ms until it holds; fails after `ms` with `what`. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = WAIT_MS): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await sleep(50);
  }
  assert.fail(`timed out after ${ms} ms waiting for ${what}`);
}

/**
 * Waits (up to `ms`) until the process has a socket open besides its stdio (Linux: a
 * `socket:[...]` link in /proc/<pid>/fd), i.e. a client process has loaded its code and started
 * connecting. A Node process dies of SIGINT/SIGTERM until its JavaScript has installed
 * a listener (Node's own start-up handler re-raises them), which on a loaded or cold
 * machine can take longer than a test's "soon after spawn"; its signal mask cannot
 * tell (Node catches both from the start). Returns at once if the process has exited;
 * fails after `ms`.
 */
export async function waitSocket(p: Proc, ms = WAIT_MS): Promise<void> {
  await waitFor(`pid ${p.child.pid} to open a socket`, () => {
    if (p.exited) return true;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${p.child.pid}/fd`);
    } catch {
      return true; // gone
    }
    // fds 0-2 are the test's stdio pipes (socket pairs when spawned with 'pipe')
    return fds.some((fd) => {
      if (Number(fd) <= 2) return false;
      try {
        return readlinkSync(`/proc/${p.child.pid}/fd/${fd}`).startsWith('socket:');
      } catch {
        return false;
      }
    });
  }, ms);
}

/** Sends `sig` and waits up to `ms` for the exit; SIGKILLs and fails if it does not come. */
export async function stopProc(p: Proc, sig: NodeJS.Signals = 'SIGTERM', ms = WAIT_MS): Promise<void> {
  if (p.exited) return;
  p.child.kill(sig);
  const done = await Promise.race([p.exit.then(() => true), sleep(ms).then(() => false)]);
  if (!done) {
    p.child.kill('SIGKILL');
    await p.exit;
    assert.fail(`process did not exit within ${ms} ms after ${sig}`);
  }
}
