/**
 * @module client/diagnose
 * Says why an endpoint could not be connected to. etcdctl only prints
 * `Error: context deadline exceeded` when no connection comes up (etcd issues #9619,
 * #8793, #12234); after that line we add one line per endpoint with the cause found by
 * probing it again: connection refused, timeout, TLS against a plaintext server,
 * plaintext against a TLS server, unknown certificate authority, wrong host name, or a
 * server that requires a client certificate.
 */

import * as net from 'node:net';
import * as tls from 'node:tls';
import type { TlsConfig } from './client.js';

/** Where and how to probe one endpoint. */
export interface ProbeTarget {
  /** host:port as given */
  endpoint: string;
  host: string;
  port: number;
  /** the client would use TLS */
  secure: boolean;
  tls?: TlsConfig;
}

/**
 * Probes `t` and returns a one-line human explanation, or undefined when the endpoint
 * looks fine (then the failure was elsewhere, e.g. a slow server).
 * @param timeoutMs bound for the whole probe (ms)
 */
export async function diagnoseEndpoint(t: ProbeTarget, timeoutMs: number): Promise<string | undefined> {
  const tcp = await tcpProbe(t, timeoutMs);
  if (tcp) return `${t.endpoint}: ${tcp}`;
  if (t.secure) {
    const why = await tlsProbe(t, t.tls, timeoutMs);
    return why ? `${t.endpoint}: ${why}` : undefined;
  }
  // Plaintext client: is the server speaking TLS?
  const tlsWhy = await tlsProbe(t, { insecureSkipVerify: true }, timeoutMs);
  const speaksTls = tlsWhy === undefined || !tlsWhy.includes(NOT_TLS);
  return speaksTls ? `${t.endpoint}: the server expects TLS; use an https:// endpoint or --cacert (and --cert/--key if it checks client certificates)` : undefined;
}

function tcpProbe(t: ProbeTarget, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = net.connect({ host: t.host, port: t.port });
    const timer = setTimeout(() => { s.destroy(); resolve(`no answer within ${timeoutMs} ms (host down or filtered?)`); }, timeoutMs);
    s.once('connect', () => { clearTimeout(timer); s.destroy(); resolve(undefined); });
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why: Record<string, string> = {
        ECONNREFUSED: 'connection refused (is etcd listening on this address and port?)',
        EHOSTUNREACH: 'host unreachable',
        ENETUNREACH: 'network unreachable',
        ENOTFOUND: 'host name not found',
        EAI_AGAIN: 'host name lookup failed',
      };
      resolve(why[e.code ?? ''] ?? e.message);
    });
  });
}

function tlsProbe(t: ProbeTarget, cfg: TlsConfig | undefined, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = tls.connect({
      host: t.host,
      port: t.port,
      servername: cfg?.serverName ?? (net.isIP(t.host) ? undefined : t.host),
      ca: cfg?.ca,
      cert: cfg?.cert,
      key: cfg?.key,
      rejectUnauthorized: !cfg?.insecureSkipVerify,
      ALPNProtocols: ['h2'],
    });
    let settled = false;
    const done = (why: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve(why);
    };
    const timer = setTimeout(() => done('TLS handshake timed out'), timeoutMs);
    s.once('secureConnect', () => {
      // A server that requires a client certificate rejects it after the TLS 1.3
      // handshake: wait briefly for that alert.
      setTimeout(() => done(undefined), 150);
    });
    s.once('error', (e: NodeJS.ErrnoException) => done(tlsReason(e)));
  });
}

const NOT_TLS = 'the server does not speak TLS';

function tlsReason(e: NodeJS.ErrnoException): string {
  const code = e.code ?? '';
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ECONNRESET' || /wrong version number|packet length too long/i.test(e.message)) {
    return `TLS handshake failed: ${NOT_TLS} (use a plain host:port or http:// endpoint)`;
  }
  if (['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT'].includes(code)) {
    return 'TLS handshake failed: the server certificate is signed by an unknown authority (check --cacert)';
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `TLS handshake failed: ${e.message}`;
  if (code === 'CERT_HAS_EXPIRED') return 'TLS handshake failed: the server certificate has expired';
  if (/certificate required|handshake failure|bad certificate/i.test(e.message)) {
    return 'TLS handshake failed: the server requires a valid client certificate (check --cert and --key)';
  }
  return `TLS handshake failed: ${e.message}`;
}
