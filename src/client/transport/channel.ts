/**
 * @module client/transport/channel
 * A channel to one endpoint: at most one HTTP/2 connection at a time
 * (connection.ts), opened on demand, reopened after it fails with a backoff
 * (100 ms doubling to 1 s, ±20 % jitter, as the client's grpc-go settings).
 *
 * States are grpc's connectivity states: `idle` (no connection; the next
 * `getState(true)` or call starts one), `connecting`, `ready`,
 * `transient_failure` (the last attempt failed; the next one starts when the
 * backoff ends), `shutdown` (closed). A connection that was ready and then
 * closed, or that got GOAWAY, leaves the channel `idle`.
 */
import { ClientCall, Connection, type ConnectOptions } from './connection.js';

/** grpc connectivity states. */
export type ChannelState = 'idle' | 'connecting' | 'ready' | 'transient_failure' | 'shutdown';

/** Reconnect backoff, ms (grpc.initial_reconnect_backoff_ms / grpc.max_reconnect_backoff_ms). */
const INITIAL_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 1000;
const BACKOFF_JITTER = 0.2;

/** A connection to one endpoint, for calls (see the module comment). */
export class Channel {
  private state: ChannelState = 'idle';
  private conn: Connection | undefined;
  private backoffMs = INITIAL_BACKOFF_MS;
  private backoffTimer: NodeJS.Timeout | undefined;
  private readonly watchers = new Set<() => void>();

  constructor(private readonly opts: ConnectOptions) {}

  /** The current state; with `tryToConnect`, an idle channel starts connecting. */
  getState(tryToConnect = false): ChannelState {
    if (tryToConnect && this.state === 'idle') this.connect();
    return this.state;
  }

  /**
   * Resolves true once the state differs from `from`, false if `deadline` (epoch
   * ms) comes first.
   */
  waitForStateChange(from: ChannelState, deadline: number): Promise<boolean> {
    if (this.state !== from) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (changed: boolean) => {
        clearTimeout(timer);
        this.watchers.delete(onChange);
        resolve(changed);
      };
      const onChange = () => {
        if (this.state !== from) done(true);
      };
      const timer = setTimeout(() => done(false), Math.max(0, deadline - Date.now()));
      this.watchers.add(onChange);
    });
  }

  private setState(s: ChannelState): void {
    if (this.state === s) return;
    this.state = s;
    for (const w of [...this.watchers]) w();
  }

  private connect(): void {
    if (this.state === 'shutdown') return;
    const conn = new Connection(this.opts);
    this.conn = conn;
    this.setState('connecting');
    conn.once('ready', () => {
      if (this.conn !== conn) return;
      this.backoffMs = INITIAL_BACKOFF_MS;
      this.setState('ready');
    });
    conn.once('goaway', () => {
      if (this.conn !== conn) return;
      this.conn = undefined;
      if (this.state !== 'shutdown') this.setState('idle');
    });
    conn.once('close', () => {
      if (this.conn !== conn) return;
      this.conn = undefined;
      if (this.state === 'shutdown') return;
      if (this.state === 'ready') {
        this.setState('idle');
        return;
      }
      this.setState('transient_failure');
      const wait = this.backoffMs * (1 + BACKOFF_JITTER * (Math.random() * 2 - 1));
      this.backoffMs = Math.min(this.backoffMs * 1.6, MAX_BACKOFF_MS);
      this.backoffTimer = setTimeout(() => {
        this.backoffTimer = undefined;
        if (this.state === 'transient_failure') this.connect();
      }, wait);
      this.backoffTimer.unref();
    });
    conn.open();
  }

  /**
   * Starts a call on the ready connection (when there is none, the call ends at
   * once with Unavailable `transport is closing`).
   * @param path `/package.Service/Method`
   * @param metadata request headers (lower-case names, UTF-8 values)
   * @param deadline epoch ms, undefined for none
   */
  startCall(path: string, metadata: readonly [string, string][], deadline?: number): ClientCall {
    const conn = this.state === 'ready' && this.conn ? this.conn : new Connection(this.opts);
    return conn.startCall(path, metadata, deadline);
  }

  /** Closes the connection; open calls end with Unavailable. */
  close(): void {
    this.setState('shutdown');
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    const c = this.conn;
    this.conn = undefined;
    c?.close();
  }
}

export { ClientCall };
export type { CallStatus, ConnectOptions } from './connection.js';
