/**
 * @module commands/lease/keep-alive
 * `etcdctl lease keep-alive [options] <leaseID>` (lease_command.go,
 * leaseKeepAliveCommandFunc), with the client behaviour of clientv3/lease.go:
 *
 * - `--once`: one LeaseKeepAlive request on a fresh stream (KeepAliveOnce). A reply with
 *   TTL <= 0 is `etcdserver: requested lease not found`; Unavailable/Internal failures
 *   are retried; any failure ends with exit 2. No deadline (context.TODO()).
 * - otherwise: a stream that sends a keep-alive whenever one is due (first at once, then
 *   TTL/3 after each reply, checked every 500 ms) and prints every reply, flushing stdout
 *   after each line. It ends, exit 0, when a reply has TTL <= 0 (revoked or expired) or
 *   when no reply came before the deadline (the last TTL, or dial timeout + 1 s before
 *   the first reply; checked every second). A broken stream is reopened after 500 ms.
 *   The simple format then prints `lease <id> expired or revoked.`.
 * - SIGINT/SIGTERM/SIGHUP end the process by that signal, without output, as Go's
 *   default signal handling does for etcdctl.
 */

import { create } from '@bufbuild/protobuf';
import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs, ExitBadConnection } from '../../cli/exit-codes.js';
import type { EtcdClient } from '../../client/client.js';
import { EtcdError, fromStatus } from '../../client/errors.js';
import { LeaseKeepAliveRequestSchema, type LeaseKeepAliveResponse } from '../../gen/etcdserverpb/rpc_pb.js';
import { leaseIdFromArg } from './lease-id.js';

/** clientv3's retryConnWait: pause between stream attempts and keep-alive send checks (ms). */
const RETRY_CONN_WAIT_MS = 500;
/** clientv3's deadlineLoop period (ms). */
const DEADLINE_CHECK_MS = 1000;
/** clientv3's defaultTTL, the first deadline when the dial timeout is 0 (ms). */
const DEFAULT_FIRST_TIMEOUT_MS = 5000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

type KeepAliveCall = Awaited<ReturnType<EtcdClient['leaseKeepAliveStream']>>;

/** `lease keep-alive [--once] <leaseID>`: see the module comment for the stream's life cycle. */
export const leaseKeepAliveCommand: CommandSpec = {
  use: 'keep-alive [options] <leaseID>',
  short: 'Keeps leases alive (renew)',
  flags: [{ name: 'once', type: 'bool', default: false, usage: 'Resets the keep-alive time to its original value and exits immediately' }],
  async run(ctx) {
    if (ctx.args.length !== 1) throw new CliError(ExitBadArgs, 'lease keep-alive command needs lease ID as argument');
    const id = leaseIdFromArg(ctx.args[0]!);
    const display = ctx.display();
    const client = await ctx.client();

    if (ctx.flags.bool('once')) {
      let resp: LeaseKeepAliveResponse;
      try {
        resp = await keepAliveOnce(client, id);
      } catch (e) {
        if (e instanceof EtcdError) throw new CliError(ExitBadConnection, e.message, e.reason);
        throw e;
      }
      display.keepAlive(resp);
      return;
    }

    const restore = dieOnSignals(() => ctx.out.flush());
    try {
      const dial = ctx.globals().dialTimeoutMs;
      // clientv3: the first reply is awaited for dial timeout + 1 s, or defaultTTL when that is 1 s
      const firstTimeout = dial === 0 ? DEFAULT_FIRST_TIMEOUT_MS : dial + 1000;
      await new KeepAliveLoop(client, id, firstTimeout, (r) => {
        display.keepAlive(r);
        ctx.out.flush();
      }).run();
      display.keepAliveExpired(id);
    } finally {
      restore();
    }
  },
};

/**
 * Makes SIGINT, SIGTERM and SIGHUP kill the process by the same signal after `flush`,
 * like an etcdctl that installs no handler. Returns a function removing the handlers.
 */
function dieOnSignals(flush: () => void): () => void {
  const sigs = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const handlers = sigs.map((sig) => {
    const h = () => {
      try { flush(); } catch { /* stdout gone: nothing to save */ }
      for (let i = 0; i < sigs.length; i++) process.removeListener(sigs[i]!, handlers[i]!);
      process.kill(process.pid, sig);
    };
    process.on(sig, h);
    return h;
  });
  return () => {
    for (let i = 0; i < sigs.length; i++) process.removeListener(sigs[i]!, handlers[i]!);
  };
}

/**
 * clientv3 KeepAliveOnce: one request/reply on a fresh stream, retried on Unavailable
 * or Internal and while no endpoint is reachable (etcdctl has no deadline here).
 * @throws EtcdError `etcdserver: requested lease not found` when the reply has TTL <= 0,
 *   or the stream's error (`EOF` if it ends without a reply)
 */
export async function keepAliveOnce(client: EtcdClient, id: bigint): Promise<LeaseKeepAliveResponse> {
  for (;;) {
    let call: KeepAliveCall;
    try {
      call = await client.leaseKeepAliveStream();
    } catch (e) {
      if (e instanceof EtcdError && e.code === -1) continue; // not connected yet: keep waiting
      throw e;
    }
    const outcome = await new Promise<{ resp?: LeaseKeepAliveResponse; code?: number; details?: string }>((resolve) => {
      call.on('data', (r: LeaseKeepAliveResponse) => resolve({ resp: r }));
      call.on('error', () => { /* reported through 'status' */ });
      call.on('status', (st: { code: number; details: string }) => resolve({ code: st.code, details: st.details }));
      try {
        call.write(create(LeaseKeepAliveRequestSchema, { ID: id }));
      } catch {
        // a broken stream reports itself through its status
      }
    });
    call.cancel();
    if (outcome.resp) {
      if (outcome.resp.TTL <= 0n) throw fromStatus(5, 'etcdserver: requested lease not found');
      return outcome.resp;
    }
    if (outcome.code === 14 || outcome.code === 13) {
      await sleep(50);
      continue;
    }
    if (outcome.code === 0) throw new EtcdError('EOF', 2, 'EOF');
    throw fromStatus(outcome.code!, outcome.details ?? '');
  }
}

/**
 * One lease kept alive on a (re)opened LeaseKeepAlive stream, as clientv3's lessor does
 * for a single KeepAlive call. `run()` resolves when the lease is gone (a reply with
 * TTL <= 0, or no reply before the deadline) and rejects if `onResp` throws.
 */
export class KeepAliveLoop {
  private nextKeepAlive = Date.now();
  /** when the last keep-alive request went out (ms) */
  private lastSend = Date.now();
  private deadline: number;
  private done = false;
  private call: KeepAliveCall | undefined;
  private timers: NodeJS.Timeout[] = [];
  private settle: (err?: unknown) => void = () => {};

  /**
   * @param firstTimeoutMs how long to wait for the first reply (ms)
   * @param onResp called with every reply whose TTL is positive
   */
  constructor(
    private readonly client: EtcdClient,
    private readonly id: bigint,
    firstTimeoutMs: number,
    private readonly onResp: (r: LeaseKeepAliveResponse) => void,
  ) {
    this.deadline = Date.now() + firstTimeoutMs;
  }

  /**
   * Starts the stream and the deadline check.
   * @returns resolves when the lease is gone; rejects with what `onResp` threw
   */
  run(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.settle = (err?: unknown) => {
        if (this.done) return;
        this.done = true;
        for (const t of this.timers) clearInterval(t);
        this.call?.cancel();
        if (err === undefined) resolve();
        else reject(err);
      };
      this.timers.push(
        setInterval(() => {
          if (Date.now() >= this.deadline) this.settle();
        }, DEADLINE_CHECK_MS),
      );
      void this.streamLoop();
    });
  }

  private async streamLoop(): Promise<void> {
    while (!this.done) {
      let call: KeepAliveCall;
      try {
        call = await this.client.leaseKeepAliveStream(true);
      } catch {
        // no endpoint ready: clientv3 keeps trying until the deadline reaps the lease
        await sleep(RETRY_CONN_WAIT_MS);
        continue;
      }
      if (this.done) {
        call.cancel();
        return;
      }
      this.call = call;
      const ended = new Promise<void>((resolve) => {
        call.on('data', (r: LeaseKeepAliveResponse) => this.onData(r));
        call.on('error', () => { /* reported through 'status' */ });
        call.on('status', () => resolve());
      });
      const send = () => {
            if (this.done || Date.now() < this.nextKeepAlive) return;
        try {
          this.lastSend = Date.now();
          call.write(create(LeaseKeepAliveRequestSchema, { ID: this.id }));
        } catch {
          // a broken stream reports itself through its status
        }
      };
      send();
      const sender = setInterval(send, RETRY_CONN_WAIT_MS);
      this.timers.push(sender);
      await ended;
      clearInterval(sender);
      this.call = undefined;
      if (this.done) return;
      await sleep(RETRY_CONN_WAIT_MS);
    }
  }

  private onData(r: LeaseKeepAliveResponse): void {
    if (this.done || r.ID !== this.id) return;
    if (r.TTL <= 0n) {
      this.settle();
      return;
    }
    const now = Date.now();
    const ttlMs = Number(r.TTL) * 1000;
    // clientv3 schedules the next request TTL/3 after the reply, checked on a 500 ms
    // loop aligned with the send; Go's timer lateness on that loop exceeds a local round
    // trip, so in practice it sends every TTL/3 counted from the previous send (observed:
    // TTL 3 gives one line per second). Counting from the send reproduces that cadence.
    this.nextKeepAlive = (now - this.lastSend < 250 ? this.lastSend : now) + ttlMs / 3;
    this.deadline = now + ttlMs;
    try {
      this.onResp(r);
    } catch (e) {
      this.settle(e);
    }
  }
}
