// A userspace TCP proxy for the peer traffic of a robustness run (tc netem is not
// available on the machine the runs are made on).
//
// The runner redirects (iptables DNAT in its namespace, PREROUTING) every TCP connection
// a member opens to another member's address to this proxy's listener for that member;
// the proxy connects on to the member's real peer URL. Connections keep the member's
// source address, so the proxy knows both ends of each link.
//
// Normally bytes pass through unchanged. A fault (setFault) applies to the links of one
// member (or all) for a while:
//   - delay [min, max] ms: every chunk read from either side is held for a random time in
//     that range before being written, in order (a chunk never overtakes an earlier one
//     of the same direction, as on a TCP stream over a slow path);
//   - drop p: each chunk ends its connection (both sides reset) with probability p, and a
//     new connection is refused with probability p. Bytes are never dropped from the
//     middle of a stream: TCP does not do that (a lost packet shows as delay or a reset).
//
// It runs as a child process (`node proxy.js CONFIG_JSON`), so the runner's event loop
// (clients, watches) does not slow the peer traffic down; the fault is set through its
// stdin, one JSON line per change: {"delay":[50,300],"drop":0.05,"host":"10.98.2.2"} or {}.

import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

/** One listener: connections to it go on to `host:port` (a member's peer URL). */
export interface ProxyRoute {
  listenPort: number;
  /** Address to listen on (default 0.0.0.0: the runner's namespace, reached through DNAT). */
  listenHost?: string;
  host: string;
  port: number;
}

/** A fault on the proxied links (see the module comment); `{}` is none. */
export interface ProxyFault {
  /** Random delay of each chunk, [min, max] ms. */
  delay?: [number, number];
  /** Probability that a chunk resets its connection, and that a new connection is refused. */
  drop?: number;
  /** Only the links from or to this member address (default: all). */
  host?: string;
}

function serve(routes: ProxyRoute[]): void {
  let fault: ProxyFault = {};
  /** Connections accepted so far (told with each answer on stdout). */
  let accepted = 0;
  const applies = (a: string, b: string) => fault.host === undefined || fault.host === a || fault.host === b;
  const reset = (s: net.Socket) => {
    if (typeof s.resetAndDestroy === 'function' && s.readyState !== 'opening' && !s.destroyed) s.resetAndDestroy();
    else s.destroy();
  };
  /**
   * Copies `from` to `to`, applying the fault current at each chunk; an end of `from` is
   * passed on after its last chunk. One FIFO queue per direction and one timer for its
   * head keep the chunks in order (timers due at the same millisecond may fire in any
   * order, which would reorder the stream).
   */
  const pump = (from: net.Socket, to: net.Socket, src: string, dst: string) => {
    const queue: Array<{ at: number; chunk: Buffer | null }> = [];
    let timer: NodeJS.Timeout | undefined;
    let last = 0;
    const drain = () => {
      timer = undefined;
      while (queue.length && queue[0]!.at <= Date.now()) {
        const { chunk } = queue.shift()!;
        if (to.destroyed) continue;
        if (chunk) to.write(chunk);
        else to.end();
      }
      if (queue.length) timer = setTimeout(drain, Math.max(1, queue[0]!.at - Date.now()));
    };
    const push = (chunk: Buffer | null, delay: number) => {
      last = Math.max(last, Date.now() + delay);
      queue.push({ at: last, chunk });
      if (queue.length === 1 && !timer) drain();
    };
    from.on('data', (chunk: Buffer) => {
      const on = applies(src, dst);
      if (on && fault.drop !== undefined && Math.random() < fault.drop) {
        reset(from);
        reset(to);
        return;
      }
      const [lo, hi] = on && fault.delay ? fault.delay : [0, 0];
      push(chunk, lo + Math.random() * (hi - lo));
    });
    from.on('end', () => push(null, 0));
  };
  let listening = 0;
  for (const r of routes) {
    const server = net.createServer({ allowHalfOpen: true }, (client) => {
      accepted++;
      const src = client.remoteAddress?.replace(/^::ffff:/, '') ?? '';
      if (fault.drop !== undefined && applies(src, r.host) && Math.random() < fault.drop) {
        reset(client);
        return;
      }
      const upstream = net.connect({ host: r.host, port: r.port, allowHalfOpen: true });
      for (const s of [client, upstream]) {
        s.setNoDelay(true);
        s.on('error', () => { reset(client); reset(upstream); });
        s.on('close', (hadError) => {
          if (hadError) reset(s === client ? upstream : client);
        });
      }
      pump(client, upstream, src, r.host);
      pump(upstream, client, r.host, src);
    });
    server.listen(r.listenPort, r.listenHost ?? '0.0.0.0', () => {
      if (++listening === routes.length) process.stdout.write('ready\n');
    });
  }
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    fault = JSON.parse(line) as ProxyFault;
    process.stdout.write(`ok ${accepted}\n`);
  });
  process.stdin.on('end', () => process.exit(0));
}

const THIS_FILE = fileURLToPath(import.meta.url);

/** The proxy child process of a run; stopped with close(). */
export class PeerProxy {
  private constructor(private readonly child: ChildProcess, private readonly lines: string[], private readonly waiters: Array<() => void>) {}

  /** Starts the proxy with these routes; resolves once every listener is up. @throws Error if it does not start within 10 s */
  static async start(routes: ProxyRoute[]): Promise<PeerProxy> {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT'));
    const child = spawn(process.execPath, [THIS_FILE, JSON.stringify(routes)], { stdio: ['pipe', 'pipe', 'inherit'], env });
    const lines: string[] = [];
    const waiters: Array<() => void> = [];
    readline.createInterface({ input: child.stdout! }).on('line', (l) => {
      lines.push(l);
      waiters.shift()?.();
    });
    const p = new PeerProxy(child, lines, waiters);
    await p.next(10_000, 'start');
    return p;
  }

  private next(ms: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`peer proxy: no answer to ${what} within ${ms} ms`)), ms);
      this.waiters.push(() => { clearTimeout(t); resolve(); });
    });
  }

  /** Sets the fault (`{}`: pass through); resolves, once the proxy has taken it, with the number of connections it has accepted so far. */
  async setFault(f: ProxyFault): Promise<number> {
    const answered = this.next(5000, 'a fault change');
    this.child.stdin!.write(`${JSON.stringify(f)}\n`);
    await answered;
    return Number(/^ok (\d+)$/.exec(this.lines[this.lines.length - 1] ?? '')?.[1] ?? -1);
  }

  /** Stops the proxy process (its connections close). */
  close(): void {
    this.child.stdin!.end();
    this.child.kill('SIGKILL');
  }
}

// `node --test dist/test/` loads every file under test/ (NODE_TEST_CONTEXT set): stay idle then
if (process.argv[1] && path.resolve(process.argv[1]) === THIS_FILE && process.env['NODE_TEST_CONTEXT'] === undefined) {
  serve(JSON.parse(process.argv[2] ?? '[]') as ProxyRoute[]);
}
