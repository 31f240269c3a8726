/**
 * @module commands/member/args
 * Argument checks shared by the member commands: the hex member ID
 * (strconv.ParseUint(s, 16, 64)) and clientv3's peer-URL validation (pkg/types
 * NewURLs, run before MemberAdd / MemberUpdate are sent).
 */

import { CliError, ExitBadArgs, ExitError } from '../../cli/exit-codes.js';
import { goQuote, GoParseError, parseGoUint } from '../../cli/go-format.js';

/**
 * The single `<memberID>` argument in hex.
 * @throws CliError(ExitBadArgs) `member ID is not provided` /
 *   `bad member ID arg (strconv.ParseUint: ...), expecting ID in Hex`
 */
export function memberIdArg(args: string[]): bigint {
  if (args.length !== 1) throw new CliError(ExitBadArgs, 'member ID is not provided');
  try {
    return parseGoUint(args[0]!, 16);
  } catch (e) {
    if (e instanceof GoParseError) throw new CliError(ExitBadArgs, `bad member ID arg (${e.message}), expecting ID in Hex`);
    throw e;
  }
}

/** Go's net.SplitHostPort succeeds for `host`? */
function hasHostPort(hostport: string): boolean {
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    if (end < 0) return false;
    const rest = hostport.slice(end + 1);
    return rest.startsWith(':') && !rest.slice(1).includes(':') && !hostport.slice(1, end).includes('[');
  }
  const i = hostport.lastIndexOf(':');
  if (i < 0) return false;
  const host = hostport.slice(0, i);
  return !host.includes(':') && !host.includes('[') && !host.includes(']') && !hostport.slice(i + 1).includes(']');
}

/** The subset of Go's url.Parse that pkg/types.NewURLs relies on; returns [scheme, host, path] or an error text. */
function parseUrl(raw: string): { scheme: string; host: string; path: string } | string {
  const fail = (why: string) => `parse ${goQuote(raw)}: ${why}`;
  if (/[\x00-\x1f\x7f]/.test(raw)) return fail('net/url: invalid control character in URL');
  let rest = raw;
  let scheme = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (/[a-zA-Z]/.test(c)) continue;
    if (/[0-9+\-.]/.test(c)) { if (i === 0) break; continue; }
    if (c === ':') {
      if (i === 0) return fail('missing protocol scheme');
      scheme = raw.slice(0, i).toLowerCase();
      rest = raw.slice(i + 1);
    }
    break;
  }
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  const q = rest.indexOf('?');
  if (q >= 0) rest = rest.slice(0, q);
  if (!rest.startsWith('/')) {
    if (scheme !== '') return { scheme, host: '', path: '' }; // opaque
    const colon = rest.indexOf(':');
    const slash = rest.indexOf('/');
    if (colon >= 0 && (slash < 0 || colon < slash)) return fail('first path segment in URL cannot contain colon');
  }
  let host = '';
  if ((scheme !== '' || !rest.startsWith('///')) && rest.startsWith('//')) {
    const auth = rest.slice(2);
    const slash = auth.indexOf('/');
    const authority = slash < 0 ? auth : auth.slice(0, slash);
    rest = slash < 0 ? '' : auth.slice(slash);
    host = authority.slice(authority.lastIndexOf('@') + 1);
    if (host.startsWith('[')) {
      const end = host.indexOf(']');
      if (end < 0) return fail("missing ']' in host");
      const port = host.slice(end + 1);
      if (port !== '' && !/^:[0-9]*$/.test(port)) return fail(`invalid port ${goQuote(port)} after host`);
    } else {
      const i = host.lastIndexOf(':');
      if (i >= 0 && !/^:[0-9]*$/.test(host.slice(i))) return fail(`invalid port ${goQuote(host.slice(i))} after host`);
    }
  }
  return { scheme, host, path: rest };
}

/**
 * Validates peer URLs as clientv3 does before MemberAdd/MemberUpdate.
 * @throws CliError(ExitError) with pkg/types' or net/url's message
 */
export function checkPeerURLs(urls: string[]): void {
  if (urls.length === 0) throw new CliError(ExitError, 'no valid URLs given');
  for (let s of urls) {
    s = s.trim();
    const u = parseUrl(s);
    if (typeof u === 'string') throw new CliError(ExitError, u);
    if (!['http', 'https', 'unix', 'unixs'].includes(u.scheme)) throw new CliError(ExitError, `URL scheme must be http, https, unix, or unixs: ${s}`);
    if (!hasHostPort(u.host)) throw new CliError(ExitError, `URL address does not have the form "host:port": ${s}`);
    if (u.path !== '') throw new CliError(ExitError, `URL must not contain a path: ${s}`);
  }
}
