/**
 * @module util/dns-srv
 * DNS SRV look-ups as etcd 3.4's pkg/srv does them with Go's resolver, shared by the
 * server (`--discovery-srv`: {@link getCluster}) and etcdctl (`--discovery-srv`:
 * {@link getClient}).
 *
 * Resolution goes through the system resolver (node:dns, which reads /etc/resolv.conf as
 * Go's pure resolver does; host names through getaddrinfo, i.e. /etc/hosts then DNS).
 * Errors carry Go's net.DNSError text, `lookup <name> on <server>: <reason>`, where
 * `<server>` is the first `nameserver` of /etc/resolv.conf as `ip:53` (Go's default
 * `127.0.0.1:53` without one) and `<reason>` is `no such host` (NXDOMAIN, or no record
 * of the type asked) or `server misbehaving` (SERVFAIL, REFUSED); a timeout is
 * `i/o timeout`, without Go's `read udp <addresses>:` prefix.
 */

import type * as dnsNs from 'node:dns';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

/** One SRV record as Go's net.SRV: `target` is absolute (ends with "."). */
export interface SrvRecord {
  target: string;
  port: number;
  priority: number;
  weight: number;
}

/** The DNS server Go's resolver names in its errors: the first nameserver of /etc/resolv.conf, `host:53`. */
export function resolverServer(): string {
  let text = '';
  try {
    text = readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '127.0.0.1:53';
  }
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'nameserver' && f[1] && isIP(f[1]) !== 0) return joinHostPort(f[1], '53');
  }
  return '127.0.0.1:53';
}

/** Go net.JoinHostPort: brackets a host holding ':'. */
export function joinHostPort(host: string, port: string | number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Go's net.DNSError text for a failed look-up of `name` (node:dns error `code`). */
function dnsErrorText(name: string, e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  let reason: string;
  switch (code) {
    case 'ENOTFOUND': case 'ENODATA': case 'NOTFOUND': case 'NODATA': case 'EAI_NONAME': case 'EAI_NODATA':
      reason = 'no such host'; break;
    case 'ESERVFAIL': case 'EREFUSED': case 'SERVFAIL': case 'REFUSED': case 'EBADRESP': case 'EFORMERR': case 'EAI_FAIL':
      reason = 'server misbehaving'; break;
    case 'ETIMEOUT': case 'EAI_AGAIN':
      reason = 'i/o timeout'; break;
    case 'ECONNREFUSED':
      reason = 'connection refused'; break;
    default:
      reason = (e as Error).message;
  }
  return `lookup ${name} on ${resolverServer()}: ${reason}`;
}

/**
 * node:dns's promise API, loaded on first use (process.getBuiltinModule, as elsewhere in
 * the CLI): the CLI imports this module at every start, and only --discovery-srv and
 * host names that are not IPs need a resolver.
 */
function dnsPromises(): typeof dnsNs.promises {
  return (process.getBuiltinModule('node:dns') as typeof dnsNs).promises;
}

/**
 * Go net.LookupSRV(service, proto, name): queries `_service._proto.name` and returns
 * the records sorted by priority, shuffled by weight within a priority (RFC 2782, as Go
 * does), targets absolute.
 * @throws Error with Go's DNSError text (see the module doc)
 */
export async function lookupSrv(service: string, proto: string, name: string): Promise<SrvRecord[]> {
  const q = `_${service}._${proto}.${name}`;
  let recs: { name: string; port: number; priority: number; weight: number }[];
  try {
    recs = await dnsPromises().resolveSrv(q);
  } catch (e) {
    throw new Error(dnsErrorText(q, e));
  }
  const out = recs.map((r) => ({ target: r.name.endsWith('.') ? r.name : `${r.name}.`, port: r.port, priority: r.priority, weight: r.weight }));
  out.sort((a, b) => a.priority - b.priority);
  // weighted shuffle within each priority (Go byPriorityWeight.sort / shuffleByWeight)
  for (let i = 0; i < out.length;) {
    let j = i + 1;
    while (j < out.length && out[j]!.priority === out[i]!.priority) j++;
    const group = out.slice(i, j);
    let sum = group.reduce((s, r) => s + r.weight, 0);
    for (let k = 0; k < group.length && sum > 0; k++) {
      let s = 0;
      const n = Math.floor(Math.random() * sum);
      for (let m = k; m < group.length; m++) {
        s += group[m]!.weight;
        if (s > n) {
          if (m > k) [group[k], group[m]] = [group[m]!, group[k]!];
          break;
        }
      }
      sum -= group[k]!.weight;
    }
    out.splice(i, j - i, ...group);
    i = j;
  }
  return out;
}

/**
 * Go net.ResolveTCPAddr("tcp", hostport) rendered as TCPAddr.String(): an IP literal is
 * kept, a name is looked up (the first IPv4 address if there is one, else the first).
 * @throws Error with Go's text (`address x: missing port in address`, `lookup h on s: no such host`)
 */
export async function resolveTcpAddr(hostport: string): Promise<string> {
  const m = /^(?:\[([^\]]*)\]|([^:]*)):(\d*)$/.exec(hostport);
  if (!m) throw new Error(`address ${hostport}: missing port in address`);
  const host = m[1] ?? m[2] ?? '';
  const port = m[3] === '' ? 0 : Number(m[3]);
  const bare = host.replace(/%.*$/, '');
  if (host === '' || isIP(bare) !== 0) return joinHostPort(host, port);
  let addrs: { address: string; family: number }[];
  try {
    addrs = await dnsPromises().lookup(host.endsWith('.') ? host.slice(0, -1) : host, { all: true, verbatim: true });
  } catch (e) {
    throw new Error(dnsErrorText(host, e));
  }
  if (addrs.length === 0) throw new Error(`lookup ${host} on ${resolverServer()}: no such host`);
  const pick = addrs.find((a) => a.family === 4) ?? addrs[0]!;
  return joinHostPort(pick.address, port);
}

/** An advertised peer URL as GetCluster sees it: Go's scheme, host (host:port) and String(). */
export interface AdvertisedUrl {
  scheme: string;
  host: string;
  text: string;
}

/**
 * etcd pkg/srv GetCluster(serviceScheme, service, name, dns, apurls): the members that
 * `_service._tcp.dns` SRV records describe, as `name=scheme://host:port` strings. A
 * record whose target resolves to the same TCP address as one of `apurls` is this
 * member (`name`); the others are named "0", "1", ... in record order. Records whose
 * target does not resolve are skipped, as are those of this member with another
 * scheme than its advertised URL; when no record is left, the last of those errors is
 * the error.
 * @throws Error `error querying DNS SRV records for _<service> <cause>`, or a look-up
 *   error of an advertised URL's host (not wrapped, as in etcd)
 */
export async function getCluster(serviceScheme: string, service: string, name: string, dns: string, apurls: readonly AdvertisedUrl[]): Promise<string[]> {
  const byAddr = new Map<string, AdvertisedUrl>();
  for (const u of apurls) byAddr.set(await resolveTcpAddr(u.host), u);
  const parts: string[] = [];
  let tempName = 0;
  let err: Error | undefined;
  let recs: SrvRecord[];
  try {
    recs = await lookupSrv(service, 'tcp', dns);
  } catch (e) {
    throw new Error(`error querying DNS SRV records for _${service} ${(e as Error).message}`);
  }
  for (const r of recs) {
    let addr: string;
    try {
      addr = await resolveTcpAddr(joinHostPort(r.target, r.port));
    } catch (e) {
      err = e as Error;
      continue;
    }
    const mine = byAddr.get(addr);
    const n = mine ? name : String(tempName++);
    const urlHost = joinHostPort(r.target.replace(/\.$/, ''), r.port);
    if (mine && mine.scheme !== serviceScheme) {
      err = new Error(`bootstrap at ${serviceScheme}://${urlHost} from DNS for ${service} has scheme mismatch with expected peer ${mine.text}`);
    } else {
      parts.push(`${n}=${serviceScheme}://${urlHost}`);
    }
  }
  if (parts.length === 0 && err) throw new Error(`error querying DNS SRV records for _${service} ${err.message}`);
  return parts;
}

/**
 * etcd pkg/srv GetSRVService: `service` with `-ssl` for https and `-<serviceName>`
 * when a service name is given (`etcd-client-ssl-foo`).
 */
export function srvServiceName(service: string, serviceName: string, scheme: 'http' | 'https'): string {
  const s = scheme === 'https' ? `${service}-ssl` : service;
  return serviceName !== '' ? `${s}-${serviceName}` : s;
}

/**
 * etcd pkg/srv GetClient(service, domain, serviceName): the endpoints of the https
 * records (`_<service>-ssl[-name]._tcp.<domain>`) then of the http ones, as
 * `scheme://target:port` with the target's trailing dot kept (Go's url.URL String).
 * @throws Error `dns lookup errors: <https error> and <http error>` when both fail
 */
export async function getClient(service: string, domain: string, serviceName: string): Promise<string[]> {
  const eps: string[] = [];
  const errs: string[] = [];
  for (const scheme of ['https', 'http'] as const) {
    try {
      for (const r of await lookupSrv(srvServiceName(service, serviceName, scheme), 'tcp', domain)) {
        eps.push(`${scheme}://${joinHostPort(r.target, r.port)}`);
      }
    } catch (e) {
      errs.push((e as Error).message);
    }
  }
  if (errs.length === 2) throw new Error(`dns lookup errors: ${errs[0]} and ${errs[1]}`);
  return eps;
}
