/**
 * @module commands/v2/common
 * What etcdctl's v2 commands share (etcdctl/ctlv2/command/util.go, error.go, format.go):
 * building the client from the global flags and ETCDCTL_* variables (endpoints, SRV
 * discovery, TLS files, user name and password prompt, timeouts), the cluster sync
 * before a command, `Error:  <err>` reporting with etcdctl's exit codes, and the
 * simple/extended/json printing of a keys response.
 */

import { spawnSync } from 'node:child_process';
import { readFileSync, readSync, writeSync } from 'node:fs';
import { promises as dns } from 'node:dns';
import { ClusterError, deadlineSignal, DeadlineExceeded, NoEndpointsError, TransportError, V2Client, type V2ClientConfig } from '../../client/v2/http.js';
import { AuthAPI, KeysAPI, MembersAPI, type V2KeysResponse, type V2Node } from '../../client/v2/api.js';
import type { V2Context } from '../../cli/v2/app.js';
import { V2Exit } from '../../cli/v2/app.js';
import { goQuote } from '../../cli/go-format.js';
import { jsonString } from '../../cli/printer/go-json.js';

/** etcdctl v2's exit codes (ctlv2/command/error.go). */
export const ExitSuccess = 0;
export const ExitBadArgs = 1;
export const ExitBadConnection = 2;
export const ExitBadAuth = 3;
export const ExitServerError = 4;
export const ExitClusterNotHealthy = 5;

function writeAll(fd: number, s: string): void {
  const data = Buffer.from(s);
  let off = 0;
  while (off < data.length) {
    try {
      off += writeSync(fd, data, off, data.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') continue;
      if (code === 'EPIPE') return;
      throw e;
    }
  }
}

/** Writes to stdout at once (Go's fmt.Print is unbuffered). */
export function out(s: string): void {
  writeAll(1, s);
}

/** Writes to stderr at once. */
export function err(s: string): void {
  writeAll(2, s);
}

/** Prints `msg` on stderr and ends with `code` (fmt.Fprintln(os.Stderr, ...); os.Exit). */
export function fail(msg: string, code = 1): never {
  err(msg + '\n');
  throw new V2Exit(code);
}

/**
 * handleError: `Error:  <err>` on stderr (plus the per-endpoint lines of a cluster
 * error) and exit with `code`.
 */
export function handleError(code: number, e: unknown): never {
  const error = e as Error;
  err(`Error:  ${error.message}\n`);
  if (error instanceof ClusterError) err(error.detail() + '\n');
  throw new V2Exit(code);
}

/** The environment the command runs with (ETCDCTL_API already removed). */
let ENV: NodeJS.ProcessEnv = process.env;

/** Sets the environment the commands read ETCDCTL_* variables from. */
export function setEnv(env: NodeJS.ProcessEnv): void {
  ENV = env;
}

/** The environment of the process (for exec-watch children). */
export function environ(): NodeJS.ProcessEnv {
  return ENV;
}

/** getPeersFlagValue: --endpoints, ETCDCTL_ENDPOINTS, --endpoint, ETCDCTL_ENDPOINT, --peers, ETCDCTL_PEERS, default. */
function peers(c: V2Context): string[] {
  const g = c.globals;
  const s = g.string('endpoints') || ENV.ETCDCTL_ENDPOINTS || g.string('endpoint') || ENV.ETCDCTL_ENDPOINT ||
    g.string('peers') || ENV.ETCDCTL_PEERS || 'http://127.0.0.1:2379,http://127.0.0.1:4001';
  return s.split(',');
}

function discoveryDomain(c: V2Context): { domain: string; insecure: boolean; serviceName: string } {
  const g = c.globals;
  return {
    domain: g.string('discovery-srv') || ENV.ETCDCTL_DISCOVERY_SRV || '',
    insecure: g.bool('insecure-discovery') || !!ENV.ETCDCTL_INSECURE_DISCOVERY,
    serviceName: ENV.ETCDCTL_DISCOVERY_SRV_NAME ?? '',
  };
}

function resolver(): string {
  try {
    const m = /^\s*nameserver\s+(\S+)/m.exec(readFileSync('/etc/resolv.conf', 'utf8'));
    if (m) return m[1]!.includes(':') ? `[${m[1]}]:53` : `${m[1]}:53`;
  } catch {
    // as Go: the local resolver
  }
  return '127.0.0.1:53';
}

/** srv.GetClient("etcd-client", domain, serviceName): https then http SRV records. */
async function srvEndpoints(domain: string, serviceName: string): Promise<string[]> {
  const urls: string[] = [];
  const errs: string[] = [];
  for (const scheme of ['https', 'http']) {
    let service = 'etcd-client' + (scheme === 'https' ? '-ssl' : '');
    if (serviceName) service += '-' + serviceName;
    const name = `_${service}._tcp.${domain}`;
    try {
      for (const r of await dns.resolveSrv(name)) {
        const host = r.name.endsWith('.') ? r.name : r.name + '.';
        urls.push(`${scheme}://${host.includes(':') ? `[${host}]` : host}:${r.port}`);
      }
    } catch {
      errs.push(`lookup ${name} on ${resolver()}: no such host`);
    }
  }
  if (errs.length === 2) throw new Error(`dns lookup errors: ${errs[0]} and ${errs[1]}`);
  return urls;
}

/** getEndpoints: SRV discovery (dropping http:// unless insecure), else the peers flags; scheme defaults to http. */
async function endpoints(c: V2Context): Promise<string[]> {
  const d = discoveryDomain(c);
  let eps: string[] = [];
  if (d.domain !== '') {
    const found = await srvEndpoints(d.domain, d.serviceName);
    if (d.insecure) eps = found;
    else {
      for (const ep of found) {
        if (ep.startsWith('http://')) {
          err(`ignoring discovered insecure endpoint ${goQuote(ep)}\n`);
          continue;
        }
        eps.push(ep);
      }
    }
  }
  if (eps.length === 0) eps = peers(c);
  return eps.map(goURLWithScheme);
}

/**
 * url.Parse then a default `http` scheme, as getEndpoints does.
 * @throws Error with Go's url.Parse text (`parse "127.0.0.1:1": first path segment in URL cannot contain colon`)
 */
export function goURLWithScheme(ep: string): string {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):(.*)$/.exec(ep);
  if (m) return ep;
  if (/^[^/]*:/.test(ep)) throw new Error(`parse ${goQuote(ep)}: first path segment in URL cannot contain colon`);
  if (ep.startsWith('//')) return 'http:' + ep;
  return 'http://' + ep.replace(/^\/+/, '/');
}

/**
 * speakeasy.Ask: `stty -echo` on stdin, the prompt on stdout, one line from stdin,
 * a newline, `stty echo`.
 */
export function askPassword(prompt: string): string {
  spawnSync('stty', ['-echo'], { stdio: 'inherit' });
  out(prompt);
  const bytes: number[] = [];
  const b = Buffer.alloc(1);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, b, 0, 1, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      if ((e as NodeJS.ErrnoException).code === 'EOF') break;
      throw e;
    }
    if (n === 0 || b[0] === 0x0a) break;
    bytes.push(b[0]!);
  }
  out('\n');
  spawnSync('stty', ['echo'], { stdio: 'inherit' });
  let s = Buffer.from(bytes).toString('utf8');
  if (s.endsWith('\r')) s = s.slice(0, -1);
  return s;
}

/** getUsernamePassword: `user:password`, or prompt for the password. */
export function usernamePassword(prompt: string, flag: string): { user: string; password: string } {
  const i = flag.indexOf(':');
  if (i === -1) return { user: flag, password: askPassword(prompt) };
  return { user: flag.slice(0, i), password: flag.slice(i + 1) };
}

/** The total-timeout deadline of one command step (contextWithTotalTimeout). */
export function totalTimeout(c: V2Context): { signal: AbortSignal; cancel(): void } {
  return deadlineSignal(c.globals.duration('total-timeout') / 1e6);
}

/** Go's %q of a request body for --debug's cURL line. */
function curlPrinter(method: string, url: string, body: string | undefined): void {
  let s = `curl -X ${method} ${url}`;
  if (body !== undefined) s += ` -d ${goQuote(body)}`;
  err(`cURL Command: ${s}\n`);
}

/**
 * newClient: endpoints, TLS files (flags or ETCDCTL_CA_FILE/CERT_FILE/KEY_FILE),
 * --timeout per request, user name (flag or ETCDCTL_USERNAME) with password.
 * @throws Error for a bad endpoint or unreadable TLS file
 */
async function newClient(c: V2Context, debug: boolean): Promise<V2Client> {
  const g = c.globals;
  const eps = await endpoints(c);
  const caFile = g.string('ca-file') || ENV.ETCDCTL_CA_FILE || '';
  const certFile = g.string('cert-file') || ENV.ETCDCTL_CERT_FILE || '';
  const keyFile = g.string('key-file') || ENV.ETCDCTL_KEY_FILE || '';
  const d = discoveryDomain(c);
  const read = (p: string) => {
    try {
      return readFileSync(p);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(`open ${p}: ${code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message}`);
    }
  };
  // transport.TLSInfo.ClientConfig: a certificate needs its key; then the CA bundle
  const tls: NonNullable<V2ClientConfig['tls']> = {};
  if (certFile !== '' || keyFile !== '') {
    if (certFile === '' || keyFile === '') throw new Error(`KeyFile and CertFile must both be present[key: ${keyFile}, cert: ${certFile}]`);
    tls.cert = read(certFile);
    tls.key = read(keyFile);
  }
  if (caFile) tls.ca = read(caFile);
  if (d.domain && !d.insecure) tls.serverName = d.domain;
  const totalMs = g.duration('total-timeout') / 1e6;
  const cfg: V2ClientConfig = {
    endpoints: eps,
    tls,
    headerTimeoutMs: g.duration('timeout') / 1e6,
    dialTimeoutMs: totalMs > 0 && totalMs < 30_000 ? totalMs : 30_000,
    onRequest: debug ? curlPrinter : undefined,
  };
  const u = g.string('username') || ENV.ETCDCTL_USERNAME || '';
  if (u !== '') {
    const up = usernamePassword('Password: ', u);
    cfg.username = up.user;
    cfg.password = up.password;
  }
  return V2Client.create(cfg);
}

/** isConnectionError: every endpoint failed to connect (or the deadline passed). */
function isConnectionError(e: unknown): boolean {
  if (e instanceof ClusterError) return e.errors.every(isConnectionError);
  if (e instanceof TransportError) return e.connection;
  return e instanceof DeadlineExceeded;
}

/** mustNewClient: a client synced with the cluster's client URLs unless --no-sync. */
export async function mustNewClient(c: V2Context): Promise<V2Client> {
  const g = c.globals;
  const debug = g.bool('debug');
  let hc: V2Client;
  try {
    hc = await newClient(c, debug);
  } catch (e) {
    fail((e as Error).message);
  }
  if (!g.bool('no-sync')) {
    if (debug) err(`start to sync cluster using endpoints(${hc.endpoints().join(',')})\n`);
    const t = totalTimeout(c);
    try {
      await sync(hc, t.signal);
    } catch (e) {
      if (e instanceof NoEndpointsError) {
        err('etcd cluster has no published client endpoints.\n');
        err(`Try '--no-sync' if you want to access non-published client endpoints(${hc.endpoints().join(',')}).\n`);
        handleError(ExitServerError, e);
      }
      if (isConnectionError(e)) handleError(ExitBadConnection, e);
    } finally {
      t.cancel();
    }
    if (debug) err(`got endpoints(${hc.endpoints().join(',')}) after sync\n`);
  }
  if (debug) err(`Cluster-Endpoints: ${hc.endpoints().join(', ')}\n`);
  return hc;
}

/** mustNewClientNoSync (cluster-health). */
export async function mustNewClientNoSync(c: V2Context): Promise<V2Client> {
  const debug = c.globals.bool('debug');
  let hc: V2Client;
  try {
    hc = await newClient(c, debug);
  } catch (e) {
    fail((e as Error).message);
  }
  if (debug) err(`Cluster-Endpoints: ${hc.endpoints().join(', ')}\n`);
  return hc;
}

/** Client.Sync: the members' client URLs become the endpoints unless they are the same set. */
async function sync(hc: V2Client, signal: AbortSignal): Promise<void> {
  const ms = await new MembersAPI(hc).list({ signal });
  const eps = ms.flatMap((m) => m.clientURLs);
  if (eps.length === 0) throw new NoEndpointsError();
  const a = [...hc.endpoints()].sort();
  const b = [...eps].sort();
  if (a.length === b.length && a.every((x, i) => x === b[i])) return;
  hc.setEndpoints(eps);
}

/** The keys API of a synced client. */
export async function keysAPI(c: V2Context): Promise<KeysAPI> {
  return new KeysAPI(await mustNewClient(c));
}

/** The members API of a synced client. */
export async function membersAPI(c: V2Context): Promise<MembersAPI> {
  return new MembersAPI(await mustNewClient(c));
}

/** The auth API of a synced client (prints Cluster-Endpoints once more with --debug, as etcdctl). */
export async function authAPI(c: V2Context): Promise<AuthAPI> {
  const hc = await mustNewClient(c);
  if (c.globals.bool('debug')) err(`Cluster-Endpoints: ${hc.endpoints().join(', ')}\n`);
  return new AuthAPI(hc);
}

/**
 * argOrStdin: argument `i`, else all of stdin; empty stdin is no value.
 * @returns undefined when neither gives a value
 */
export function argOrStdin(args: string[], i: number): string | undefined {
  if (i < args.length) return args[i];
  const chunks: Buffer[] = [];
  const b = Buffer.alloc(65536);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, b, 0, b.length, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') continue;
      if (code === 'EOF') break;
      return undefined;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(b.subarray(0, n)));
  }
  const s = Buffer.concat(chunks).toString('utf8');
  return s === '' ? undefined : s;
}

/** Go's time.Time MarshalJSON of an RFC 3339 time the server sent (fraction without trailing zeros). */
function goTime(s: string): string {
  return s.replace(/\.(\d+)(?=Z|[+-]\d\d:\d\d$)/, (_m, f: string) => {
    const t = f.replace(/0+$/, '');
    return t ? '.' + t : '';
  });
}

/** json.Marshal of a client.Node. */
export function nodeJson(n: V2Node | null): string {
  if (!n) return 'null';
  let s = `{"key":${jsonString(n.key)}`;
  if (n.dir) s += ',"dir":true';
  s += `,"value":${jsonString(n.value)},"nodes":${n.nodes ? '[' + n.nodes.map(nodeJson).join(',') + ']' : 'null'}`;
  s += `,"createdIndex":${n.createdIndex},"modifiedIndex":${n.modifiedIndex}`;
  if (n.expiration !== undefined) s += `,"expiration":${jsonString(goTime(n.expiration))}`;
  if (n.ttl) s += `,"ttl":${n.ttl}`;
  return s + '}';
}

/** printResponseKey: the response in the --output format. */
export function printResponseKey(resp: V2KeysResponse, format: string): void {
  const node = resp.node ?? emptyNode();
  switch (format) {
    case 'simple':
      if (resp.action !== 'delete') out(node.value + '\n');
      else out(`PrevNode.Value: ${(resp.prevNode ?? emptyNode()).value}\n`);
      break;
    case 'extended': {
      let s = `Key: ${node.key}\nCreated-Index: ${node.createdIndex}\nModified-Index: ${node.modifiedIndex}\n`;
      if (resp.prevNode) s += `PrevNode.Value: ${resp.prevNode.value}\n`;
      s += `TTL: ${node.ttl}\nIndex: ${resp.index}\n`;
      if (resp.action !== 'delete') s += `\n${node.value}\n`;
      out(s);
      break;
    }
    case 'json':
      out(`{"action":${jsonString(resp.action)},"node":${nodeJson(resp.node)},"prevNode":${nodeJson(resp.prevNode)}}\n`);
      break;
    default:
      err(`Unsupported output format: ${format}\n`);
  }
}

function emptyNode(): V2Node {
  return { key: '', dir: false, value: '', nodes: null, createdIndex: 0, modifiedIndex: 0, ttl: 0 };
}
