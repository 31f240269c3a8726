/**
 * @module cli/connect
 * Builds a client from the global options, as etcdctl's mustClientFromCmd does:
 * TLS files are read up front (a bad file is exit 128), `--user` without a password
 * prompts for one, and a failed connection setup or authentication is exit 2. The
 * client logs as etcdctl's Go client does: zap JSON lines (info and above) on stderr.
 */

import { writeSync } from 'node:fs';
import { EtcdClient, readTlsFile, type ClientConfig, type TlsConfig } from '../client/client.js';
import { EtcdError } from '../client/errors.js';
import { zapJsonLogger } from '../client/log.js';
import { CliError, ExitBadArgs, ExitBadConnection, ExitError } from './exit-codes.js';
import type { GlobalOptions } from './global-flags.js';
import { getClient } from '../util/dns-srv.js';
import { goQuote } from './go-format.js';

const discovered = new WeakSet<GlobalOptions>();

/**
 * etcdctl endpointsFromCmd (ctlv3/command/global.go) for `--discovery-srv DOMAIN`:
 * replaces `g.endpoints` (once per options object) with the endpoints of the
 * `_etcd-client-ssl[-NAME]._tcp.DOMAIN` then `_etcd-client[-NAME]._tcp.DOMAIN` SRV
 * records (pkg/srv GetClient). Without `--insecure-discovery` http endpoints are dropped
 * with `ignoring discovered insecure endpoint "URL"` on `writeErr`; when none is left,
 * `--endpoints` stays in use, as in etcdctl. Nothing happens without --discovery-srv.
 * @throws CliError(ExitError) `dns lookup errors: <https error> and <http error>`
 */
export async function discoverEndpoints(g: GlobalOptions, writeErr: (s: string) => void): Promise<void> {
  if (g.discoverySrv === '' || discovered.has(g)) return;
  discovered.add(g);
  let eps: string[];
  try {
    eps = await getClient('etcd-client', g.discoverySrv, g.discoverySrvName);
  } catch (e) {
    throw new CliError(ExitError, (e as Error).message);
  }
  if (!g.insecureDiscovery) {
    eps = eps.filter((ep) => {
      if (!ep.startsWith('http://')) return true;
      writeErr(`ignoring discovered insecure endpoint ${goQuote(ep)}\n`);
      return false;
    });
  }
  if (eps.length > 0) g.endpoints = eps;
}

/**
 * Reads a password from the terminal (no echo) or from stdin, like speakeasy.Ask: the
 * prompt and the newline after the input go to `write` (stdout in etcdctl); the line
 * is trimmed of surrounding white space.
 */
async function askPassword(prompt: string, write: (s: string) => void): Promise<string> {
  write(prompt);
  const stdin = process.stdin;
  if (stdin.isTTY) stdin.setRawMode(true);
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return fail(new Error('interrupted'));
        if (ch === '\u007f') buf = buf.slice(0, -1);
        else buf += ch;
      }
    };
    const cleanup = () => {
      stdin.off('data', onData);
      stdin.off('end', done);
      if (stdin.isTTY) stdin.setRawMode(false);
      stdin.pause();
    };
    const done = () => { cleanup(); write('\n'); resolve(buf.trim()); };
    const fail = (e: Error) => { cleanup(); reject(e); };
    stdin.on('data', onData);
    stdin.on('end', done);
  });
}

/**
 * Creates the client for a command.
 * @throws CliError(ExitBadArgs) for unreadable TLS files or a cert without a key;
 *   CliError(ExitBadConnection) when authentication fails
 */
export async function makeClient(g: GlobalOptions, writeErr: (s: string) => void): Promise<EtcdClient> {
  let tls: TlsConfig | undefined;
  if (g.cert !== '' || g.key !== '' || g.cacert !== '') {
    if ((g.cert !== '' || g.key !== '') && (g.cert === '' || g.key === '')) {
      throw new CliError(ExitBadArgs, `KeyFile and CertFile must both be present[key: ${g.key}, cert: ${g.cert}]`);
    }
    tls = {};
    try {
      if (g.cert !== '') {
        tls.cert = readTlsFile(g.cert);
        tls.key = readTlsFile(g.key);
      }
      if (g.cacert !== '') tls.ca = readTlsFile(g.cacert);
    } catch (e) {
      throw new CliError(ExitBadArgs, (e as Error).message);
    }
  }
  if (!g.insecureDiscovery && g.discoverySrv !== '') {
    tls = { ...(tls ?? {}), serverName: g.discoverySrv };
  }
  if (!tls && !g.insecureTransport) tls = {};
  if (tls && g.insecureSkipTlsVerify) tls.insecureSkipVerify = true;

  let username: string | undefined;
  let password: string | undefined;
  if (g.user !== '') {
    if (g.password === '') {
      const i = g.user.indexOf(':');
      if (i < 0) {
        username = g.user;
        try {
          password = await askPassword('Password: ', (s) => writeSync(1, s));
        } catch (e) {
          throw new CliError(ExitError, (e as Error).message);
        }
      } else {
        username = g.user.slice(0, i);
        password = g.user.slice(i + 1);
      }
    } else {
      username = g.user;
      password = g.password;
    }
  }

  const cfg: ClientConfig = {
    endpoints: g.endpoints,
    dialTimeoutMs: g.dialTimeoutMs,
    commandTimeoutMs: g.commandTimeoutMs,
    keepaliveTimeMs: g.keepaliveTimeMs,
    keepaliveTimeoutMs: g.keepaliveTimeoutMs,
    tls,
    username,
    password,
    logger: zapJsonLogger(writeErr),
  };
  try {
    return await EtcdClient.connect(cfg);
  } catch (e) {
    if (e instanceof EtcdError) throw new CliError(ExitBadConnection, e.message, e.reason);
    throw e;
  }
}
