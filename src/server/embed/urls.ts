/**
 * etcd's URL lists (etcd pkg/types/urls.go NewURLs, urlsmap.go NewURLsMap) with
 * Go net/url parsing rules and error texts, so that
 * `--listen-client-urls=http://h:abc` fails with
 * `parse "http://h:abc": invalid port ":abc" after host` as in real etcd.
 */
import { goQuote } from './go-flag.js';

/** A URL as Go's url.URL keeps it (no normalisation: case, default ports kept). */
export interface GoUrl {
  /** "http", "https", "unix", "unixs" (lower case as given) */
  readonly scheme: string;
  /** "host:port" or "[v6]:port" exactly as written */
  readonly host: string;
  readonly userinfo: string;
  readonly path: string;
  readonly rawQuery: string;
  readonly fragment: string;
  readonly opaque: string;
}

/** Go url.URL.String() of `u`: scheme://[userinfo@]host[path][?query][#fragment]. */
export function goUrlString(u: GoUrl): string {
  let s = '';
  if (u.scheme) s += u.scheme + ':';
  if (u.opaque) s += u.opaque;
  else {
    if (u.scheme || u.host || u.userinfo) s += '//' + (u.userinfo ? u.userinfo + '@' : '') + u.host;
    s += u.path;
  }
  if (u.rawQuery) s += '?' + u.rawQuery;
  if (u.fragment) s += '#' + u.fragment;
  return s;
}

const HOST_OK = /^[A-Za-z0-9\-_.~!$&'()*+,;=:[\]<>"%]$/;

/** Go url.Parse for absolute URLs. Throws Error(`parse "<raw>": <reason>`). */
export function parseGoUrl(raw: string): GoUrl {
  const fail = (why: string): never => {
    throw new Error(`parse ${goQuote(raw)}: ${why}`);
  };
  let rest = raw;
  let fragment = '';
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    fragment = rest.slice(hash + 1);
    rest = rest.slice(0, hash);
  }
  for (const ch of rest) if (ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f) fail('net/url: invalid control character in URL');
  let scheme = '';
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i];
    if (/[A-Za-z]/.test(c)) continue;
    if (/[0-9+\-.]/.test(c)) {
      if (i === 0) break;
      continue;
    }
    if (c === ':') {
      if (i === 0) fail('missing protocol scheme');
      scheme = rest.slice(0, i).toLowerCase();
      rest = rest.slice(i + 1);
    }
    break;
  }
  let rawQuery = '';
  const q = rest.indexOf('?');
  if (q >= 0) {
    rawQuery = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  if (!rest.startsWith('/')) {
    if (scheme !== '') return { scheme, host: '', userinfo: '', path: '', rawQuery, fragment, opaque: rest };
    const colon = rest.indexOf(':');
    const slash = rest.indexOf('/');
    if (colon >= 0 && (slash < 0 || colon < slash)) fail('first path segment in URL cannot contain colon');
  }
  let host = '';
  let userinfo = '';
  if ((scheme !== '' || true) && rest.startsWith('//')) {
    let authority = rest.slice(2);
    const slash = authority.indexOf('/');
    if (slash >= 0) {
      rest = authority.slice(slash);
      authority = authority.slice(0, slash);
    } else rest = '';
    const at = authority.lastIndexOf('@');
    if (at >= 0) {
      userinfo = authority.slice(0, at);
      authority = authority.slice(at + 1);
    }
    host = parseGoHost(authority, fail);
  }
  return { scheme, host, userinfo, path: rest, rawQuery, fragment, opaque: '' };
}

function parseGoHost(host: string, fail: (why: string) => never): string {
  if (host.startsWith('[')) {
    const close = host.lastIndexOf(']');
    if (close < 0) fail("missing ']' in host");
    const after = host.slice(close + 1);
    if (after !== '' && !/^:\d*$/.test(after)) fail(`invalid port ${goQuote(after)} after host`);
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0) {
      const port = host.slice(colon);
      if (!/^:\d*$/.test(port)) fail(`invalid port ${goQuote(port)} after host`);
    }
  }
  for (const ch of host) if (!HOST_OK.test(ch)) fail(`invalid character ${goQuote(ch)} in host name`);
  return host;
}

/** Go net.SplitHostPort → [host, port]; throws Error with Go's AddrError text. */
export function splitHostPort(hostport: string): [string, string] {
  const fail = (why: string): never => {
    throw new Error(`address ${hostport}: ${why}`);
  };
  const colon = hostport.lastIndexOf(':');
  if (colon < 0) fail('missing port in address');
  let host: string;
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    if (end < 0) fail("missing ']' in address");
    if (end + 1 === hostport.length) fail('missing port in address');
    if (end + 1 !== colon) fail(hostport[end + 1] === ':' ? 'too many colons in address' : 'missing port in address');
    host = hostport.slice(1, end);
    if (hostport.slice(end + 1).indexOf('[') >= 0) fail("unexpected '[' in address");
  } else {
    host = hostport.slice(0, colon);
    if (host.includes(':')) fail('too many colons in address');
    if (host.includes('[')) fail("unexpected '[' in address");
    if (host.includes(']')) fail("unexpected ']' in address");
  }
  if (hostport.slice(colon + 1).includes(']')) fail("unexpected ']' in address");
  return [host, hostport.slice(colon + 1)];
}

/**
 * etcd types.NewURLs: each string trimmed, parsed, checked (scheme http|https|unix|unixs,
 * "host:port", no path), then sorted by their string form.
 * @throws Error with etcd's message, e.g. `URL must not contain a path: http://a:1/x`.
 */
export function newUrls(strs: readonly string[]): GoUrl[] {
  if (strs.length === 0) throw new Error('no valid URLs given');
  const out: GoUrl[] = [];
  for (const s0 of strs) {
    const s = s0.trim();
    const u = parseGoUrl(s);
    if (!['http', 'https', 'unix', 'unixs'].includes(u.scheme)) throw new Error(`URL scheme must be http, https, unix, or unixs: ${s}`);
    try {
      splitHostPort(u.host);
    } catch {
      throw new Error(`URL address does not have the form "host:port": ${s}`);
    }
    if (u.path !== '') throw new Error(`URL must not contain a path: ${s}`);
    out.push(u);
  }
  return out.sort((a, b) => cmp(goUrlString(a), goUrlString(b)));
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * etcd types.NewURLsMap of an --initial-cluster string "n1=u1,n1=u2,n2=u3":
 * name → sorted URL strings. Map order: first appearance of each name.
 * @throws Error from newUrls for a bad URL.
 */
export function newUrlsMap(s: string): Map<string, string[]> {
  const raw = new Map<string, string[]>();
  for (const part of s.split(',')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq >= 0 ? part.slice(0, eq) : part;
    const value = eq >= 0 ? part.slice(eq + 1) : '';
    if (!raw.has(name)) raw.set(name, []);
    raw.get(name)!.push(value);
  }
  const out = new Map<string, string[]>();
  for (const [name, urls] of raw) out.set(name, newUrls(urls).map(goUrlString));
  return out;
}

/** etcd URLsMap.String(): "name=url" pairs sorted, comma-joined. */
export function urlsMapString(m: ReadonlyMap<string, readonly string[]>): string {
  const pairs: string[] = [];
  for (const [name, urls] of m) for (const u of urls) pairs.push(`${name}=${u}`);
  return pairs.sort(cmp).join(',');
}

/** The WHATWG URL for a checked GoUrl (what EmbedConfig carries). */
export function toWhatwgUrl(u: GoUrl): URL {
  return new URL(goUrlString(u));
}
