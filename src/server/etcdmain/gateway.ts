/**
 * @module server/etcdmain/gateway
 * `etcd gateway start`: etcd 3.4's L4 TCP proxy (etcdmain/gateway.go,
 * proxy/tcpproxy/userspace.go). It listens on --listen-addr (default
 * 127.0.0.1:23790) and pipes each accepted connection to one of --endpoints,
 * picked round robin among the active ones; an endpoint whose dial fails is
 * deactivated (logged) and retried every --retry-delay (default 1m).
 *
 * Command line as etcd's cobra command: `etcd gateway [--flags] start [--flags]`,
 * `-h/--help` prints the command's help on stdout, a flag error prints cobra's
 * `Error: ...` + usage on stderr and exits 1; the start checks print etcd's
 * messages on stdout and exit 1. Logs are zap production JSON lines on stderr.
 * DNS SRV discovery (--discovery-srv) is not supported: it exits 1 saying so.
 */
import dns from 'node:dns/promises';
import net from 'node:net';
import { parseGoDuration } from '../etcdserver/api/v3compactor/compactor.js';

/** Where the gateway writes (tests replace it). */
export interface GatewayIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

const GATEWAY_HELP = `gateway related command

Usage:
  etcd gateway [command]

Available Commands:
  start       start the gateway

Flags:
  -h, --help   help for gateway

Use "etcd gateway [command] --help" for more information about a command.
`;

const START_FLAGS = `Flags:
      --discovery-srv string        DNS domain used to bootstrap initial cluster
      --discovery-srv-name string   service name to query when using DNS discovery
      --endpoints strings           comma separated etcd cluster endpoints (default [127.0.0.1:2379])
  -h, --help                        help for start
      --insecure-discovery          accept insecure SRV records
      --listen-addr string          listen address (default "127.0.0.1:23790")
      --retry-delay duration        duration of delay before retrying failed endpoints (default 1m0s)
      --trusted-ca-file string      path to the client server TLS CA file for verifying the discovered endpoints when discovery-srv is provided.
`;
const START_USAGE = `Usage:\n  etcd gateway start [flags]\n\n${START_FLAGS}`;
const START_HELP = `start the gateway\n\n${START_USAGE}`;

/** Flags of `gateway start` and whether they take a value. */
const START_FLAG_KINDS: Record<string, 'value' | 'bool'> = {
  'discovery-srv': 'value', 'discovery-srv-name': 'value', endpoints: 'value', 'insecure-discovery': 'bool',
  'listen-addr': 'value', 'retry-delay': 'value', 'trusted-ca-file': 'value',
};

/** The options of `gateway start`. */
export interface GatewayOptions {
  listenAddr: string;
  endpoints: string[];
  retryDelayMs: number;
  discoverySrv: string;
}

class FlagError extends Error {}

/** pflag's CSV reading of a StringSlice value. */
function splitCsv(v: string): string[] {
  if (v === '') return [];
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '"') { quoted = !quoted; continue; }
    if (c === ',' && !quoted) { out.push(cur); cur = ''; continue; }
    cur += c;
  }
  out.push(cur);
  return out;
}

/**
 * Parses the arguments after `gateway`: the subcommand (or undefined) and the
 * start options; `help` when -h/--help was given.
 * @throws FlagError with pflag's message for an unknown flag or bad value
 */
function parseGatewayArgs(args: readonly string[]): { sub?: string; help: boolean; opts: GatewayOptions } {
  const opts: GatewayOptions = { listenAddr: '127.0.0.1:23790', endpoints: ['127.0.0.1:2379'], retryDelayMs: 60_000, discoverySrv: '' };
  let endpointsSet = false;
  let sub: string | undefined;
  let help = false;
  let flagErr: FlagError | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') break;
    if (!a.startsWith('-') || a === '-') {
      sub ??= a;
      continue;
    }
    const m = /^--?([^=]*)(?:=(.*))?$/s.exec(a)!;
    const name = m[1]!;
    let val = m[2];
    if (name === 'h' || name === 'help') {
      help = true;
      continue;
    }
    if (flagErr) continue;
    const kind = START_FLAG_KINDS[name];
    if (!kind || !a.startsWith('--')) {
      flagErr = new FlagError(a.startsWith('--') ? `unknown flag: --${name}` : `unknown shorthand flag: '${name[0]}' in ${a}`);
      continue;
    }
    if (kind === 'bool') {
      if (val !== undefined && !/^(1|0|t|f|T|F|true|false|TRUE|FALSE|True|False)$/.test(val)) flagErr = new FlagError(`invalid argument "${val}" for "--${name}" flag: strconv.ParseBool: parsing "${val}": invalid syntax`);
      continue;
    }
    if (val === undefined) {
      if (i + 1 >= args.length) {
        flagErr = new FlagError(`flag needs an argument: --${name}`);
        continue;
      }
      val = args[++i]!;
    }
    switch (name) {
      case 'listen-addr': opts.listenAddr = val; break;
      case 'endpoints':
        opts.endpoints = endpointsSet ? [...opts.endpoints, ...splitCsv(val)] : splitCsv(val);
        endpointsSet = true;
        break;
      case 'retry-delay':
        try {
          opts.retryDelayMs = Number(parseGoDuration(val) / 1_000_000n);
        } catch (e) {
          flagErr = new FlagError(`invalid argument "${val}" for "--retry-delay" flag: ${(e as Error).message}`);
        }
        break;
      case 'discovery-srv': opts.discoverySrv = val; break;
      default: break;
    }
  }
  if (flagErr) throw flagErr;
  return { sub, help, opts };
}

/** Go net.SplitHostPort (the cases a host:port flag meets). */
function splitHostPort(hp: string): { host: string; port: string } | undefined {
  if (hp.startsWith('[')) {
    const m = /^\[([^\]]*)\]:([^:]*)$/.exec(hp);
    return m ? { host: m[1]!, port: m[2]! } : undefined;
  }
  const i = hp.lastIndexOf(':');
  if (i < 0 || hp.indexOf(':') !== i) return undefined;
  return { host: hp.slice(0, i), port: hp.slice(i + 1) };
}

/** etcdmain stripSchema: `scheme://host:port` → `host:port`; anything else unchanged. */
function stripSchema(ep: string): string {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(ep);
  return m && m[1] ? m[1].replace(/^[^@]*@/, '') : ep;
}

/** Go net.LookupHost: the addresses of `host` (an IP literal is itself). */
async function lookupHost(host: string): Promise<string[]> {
  if (net.isIP(host)) return [host];
  const r = await dns.lookup(host === '' ? 'localhost' : host, { all: true });
  return r.map((x) => x.address);
}

/** A zap production JSON line (level, ts in seconds, caller, msg, fields). */
function zapLine(level: string, caller: string, msg: string, fields: Record<string, unknown>): string {
  return `${JSON.stringify({ level, ts: Date.now() / 1000, caller, msg, ...fields })}\n`;
}

interface Remote {
  addr: string;
  host: string;
  port: number;
  inactive: boolean;
}

/** Go's text of a failed dial. */
function dialError(r: Remote, e: NodeJS.ErrnoException): string {
  const why = e.code === 'ECONNREFUSED' ? 'connect: connection refused' : e.code === 'EHOSTUNREACH' ? 'connect: no route to host' : e.code === 'ETIMEDOUT' ? 'i/o timeout' : e.message;
  return `dial tcp ${r.addr}: ${why}`;
}

function dial(r: Remote): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: r.host, port: r.port });
    s.once('connect', () => { s.off('error', reject); resolve(s); });
    s.once('error', reject);
  });
}

/**
 * The TCP proxy (tcpproxy.TCPProxy.Run) on `server`, already listening.
 * Returns a function that stops the monitor.
 */
function runProxy(server: net.Server, remotes: Remote[], retryDelayMs: number, io: GatewayIo): () => void {
  let pickCount = 0;
  const pick = (): Remote | undefined => {
    for (let i = 0; i < remotes.length; i++) {
      const r = remotes[pickCount % remotes.length]!;
      pickCount++;
      if (!r.inactive) return r;
    }
    return undefined;
  };
  server.on('connection', (inSock: net.Socket) => {
    inSock.pause();
    inSock.on('error', () => {});
    void (async () => {
      let out: net.Socket | undefined;
      for (;;) {
        const r = pick();
        if (!r) break;
        try {
          out = await dial(r);
          break;
        } catch (e) {
          r.inactive = true;
          io.stderr(zapLine('warn', 'tcpproxy/userspace.go:183', 'deactivated endpoint', { address: r.addr, interval: retryDelayMs / 1000, error: dialError(r, e as NodeJS.ErrnoException) }));
        }
      }
      if (!out) {
        inSock.destroy();
        return;
      }
      const o = out;
      o.on('error', () => {});
      const closeBoth = () => { inSock.destroy(); o.destroy(); };
      o.on('close', closeBoth);
      inSock.on('close', closeBoth);
      inSock.pipe(o);
      o.pipe(inSock);
      inSock.resume();
    })();
  });
  const timer = setInterval(() => {
    for (const r of remotes) {
      if (!r.inactive) continue;
      dial(r).then(
        (s) => {
          s.destroy();
          r.inactive = false;
          io.stderr(zapLine('info', 'tcpproxy/userspace.go:222', 'activated', { address: r.addr }));
        },
        (e: NodeJS.ErrnoException) => {
          io.stderr(zapLine('warn', 'tcpproxy/userspace.go:215', 'failed to activate endpoint (stay inactive for another interval)', { address: r.addr, interval: retryDelayMs / 1000, error: dialError(r, e) }));
        },
      );
    }
  }, retryDelayMs > 0 ? retryDelayMs : 5 * 60_000);
  return () => clearInterval(timer);
}

/**
 * `etcd gateway ...` with `args` the arguments after "gateway". Resolves with the
 * exit code for help, errors and failed checks; once listening it runs until the
 * process is killed (never resolves).
 */
export async function gatewayMain(args: readonly string[], io: GatewayIo): Promise<number> {
  let parsed: ReturnType<typeof parseGatewayArgs>;
  const isStart = args.some((a) => a === 'start');
  try {
    parsed = parseGatewayArgs(args);
  } catch (e) {
    if (!isStart) {
      io.stderr(`Error: ${(e as Error).message}\nUsage:\n  etcd gateway [command]\n\nAvailable Commands:\n  start       start the gateway\n\nFlags:\n  -h, --help   help for gateway\n\nUse "etcd gateway [command] --help" for more information about a command.\n\n${(e as Error).message}`);
      return 1;
    }
    io.stderr(`Error: ${(e as Error).message}\n${START_USAGE}\n${(e as Error).message}`);
    return 1;
  }
  if (parsed.sub !== 'start') {
    io.stdout(GATEWAY_HELP);
    return 0;
  }
  if (parsed.help) {
    io.stdout(START_HELP);
    return 0;
  }
  const o = parsed.opts;
  if (o.discoverySrv !== '') {
    io.stderr('--discovery-srv (DNS SRV discovery) is not supported by this etcd\n');
    return 1;
  }
  const endpoints = o.endpoints.map(stripSchema);
  const remotes: Remote[] = [];
  for (const ep of endpoints) {
    const hp = splitHostPort(ep);
    if (!hp) {
      io.stdout(`error parsing endpoint ${JSON.stringify(ep)}`);
      return 1;
    }
    const port = /^\d+/.test(hp.port) ? Number(/^\d+/.exec(hp.port)![0]) & 0xffff : 0;
    remotes.push({ host: hp.host, port, addr: `${hp.host}:${port}`, inactive: false });
  }
  const lhp = splitHostPort(o.listenAddr);
  if (!lhp) {
    io.stdout(`failed to validate listen address: ${o.listenAddr}\n`);
    return 1;
  }
  let laddrs: string[];
  try {
    laddrs = await lookupHost(lhp.host);
  } catch {
    io.stdout(`failed to resolve listen host: ${lhp.host}\n`);
    return 1;
  }
  for (const r of remotes) {
    let eaddrs: string[];
    try {
      eaddrs = await lookupHost(r.host);
    } catch {
      io.stdout(`failed to resolve endpoint host: ${r.host}\n`);
      return 1;
    }
    if (String(r.port) !== lhp.port) continue;
    for (const ea of eaddrs) {
      if (laddrs.includes(ea)) {
        io.stdout(`SRV or endpoint (${r.host}:${r.port}->${ea}:${r.port}) should not resolve to the gateway listen addr (${o.listenAddr})\n`);
        return 1;
      }
    }
  }
  if (remotes.length === 0) {
    io.stdout('no endpoints found\n');
    return 1;
  }
  const server = net.createServer({ pauseOnConnect: true });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: lhp.host === '' ? undefined : lhp.host, port: Number(lhp.port) }, () => { server.off('error', reject); resolve(); });
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'EADDRINUSE' ? 'bind: address already in use' : err.code === 'EADDRNOTAVAIL' ? 'bind: cannot assign requested address' : err.code === 'EACCES' ? 'bind: permission denied' : err.message;
    io.stderr(`listen tcp ${o.listenAddr}: ${why}\n`);
    return 1;
  }
  io.stderr(zapLine('info', 'tcpproxy/userspace.go:90', 'ready to proxy client requests', { endpoints: remotes.map((r) => r.addr) }));
  runProxy(server, remotes, o.retryDelayMs, io);
  return new Promise<number>(() => {});
}
