/**
 * @module server/rafthttp/peer-tls
 * Who may talk to whom over peer TLS: etcd 3.4's `--peer-cert-allowed-cn` and
 * `--peer-cert-allowed-hostname` (pkg/transport/listener.go TLSInfo.AllowedCN /
 * AllowedHostname, turned into tls.Config.VerifyPeerCertificate by baseConfig).
 *
 * etcd's rule, kept here: the check applies to the *verified* certificate of the
 * other side, on both ends of a peer connection, because the same base TLS config
 * serves the peer listener (the client certificate of an incoming peer) and the
 * rafthttp client (the server certificate of the peer dialled):
 * - allowed CN: the leaf's Subject CommonName must equal it exactly;
 * - allowed hostname: Go's x509 Certificate.VerifyHostname, i.e. an IP matches an
 *   IP SAN, a name matches a DNS SAN (a `*.` wildcard covers one label); the CN is
 *   not looked at;
 * - both set: the TLS config cannot be built ("AllowedCN and AllowedHostname are
 *   mutually exclusive (cn=..., hostname=...)");
 * - a certificate that was not verified against the trusted CA (no verified chain,
 *   e.g. --peer-auto-tls) never passes;
 * - failure: `client certificate authentication failed` (the text of etcd's error
 *   on both sides).
 *
 * Go fails the TLS handshake and sends a `bad_certificate` alert, which the other
 * end reports as `remote error: tls: bad certificate`. Node's TLS checks
 * certificates only after OpenSSL finished the handshake, so:
 * - as a client ({@link connectCheckedTls}), once the server's certificate is
 *   rejected, the fatal alert a Go client would send is written in place of our
 *   Certificate/Finished flight (TLS 1.3: encrypted with the client handshake
 *   traffic secret from the `keylog` event, record sequence 0, exactly where Go puts
 *   it); with TLS 1.2 the connection is just closed;
 * - as a server (embed/etcd.ts guardPeerServer), the check runs in the handshake-done
 *   callback, before OpenSSL's buffered session tickets leave: the alert is written
 *   as the first record under the server application traffic secret, then the
 *   connection is closed (logged as "rejected connection"); with TLS 1.2 it is just
 *   closed.
 */

import crypto, { type X509Certificate } from 'node:crypto';
import net from 'node:net';
import { Duplex } from 'node:stream';
import https from 'node:https';
import tls from 'node:tls';

/** etcd's error text when the allowed CN / hostname check fails (pkg/transport/listener.go). */
export const ERR_CLIENT_CERT_AUTH_FAILED = 'client certificate authentication failed';

/** The allowed-name settings of one TLS side (etcd TLSInfo.AllowedCN / AllowedHostname); empty: unset. */
export interface AllowedCertNames {
  allowedCn?: string;
  allowedHostname?: string;
}

/**
 * The check of etcd's VerifyPeerCertificate for `names`: undefined when neither
 * is set (no check), else a function of the other side's leaf certificate and
 * whether its chain was verified, giving undefined (accepted) or the Error.
 * Throws Error (etcd's message) when both are set.
 */
export function allowedCertCheck(names: AllowedCertNames): ((leaf: X509Certificate | undefined, verified: boolean) => Error | undefined) | undefined {
  const cn = names.allowedCn ?? '';
  const host = names.allowedHostname ?? '';
  if (cn && host) throw new Error(`AllowedCN and AllowedHostname are mutually exclusive (cn=${JSON.stringify(cn)}, hostname=${JSON.stringify(host)})`);
  if (!cn && !host) return undefined;
  const ok = cn ? (c: X509Certificate) => subjectCommonName(c) === cn : (c: X509Certificate) => verifyHostname(c, host);
  return (leaf, verified) => (leaf && verified && ok(leaf) ? undefined : new Error(ERR_CLIENT_CERT_AUTH_FAILED));
}

/** The Subject CommonName of a certificate ('' without one; the last CN when several, as Go). */
export function subjectCommonName(c: X509Certificate): string {
  let cn = '';
  for (const line of c.subject.split('\n')) {
    if (line.startsWith('CN=')) cn = line.slice(3);
  }
  return cn;
}

/**
 * Go's x509 Certificate.VerifyHostname as a boolean: `host` (an IP, possibly in
 * brackets, or a DNS name, a trailing dot ignored) against the SANs only.
 */
export function verifyHostname(c: X509Certificate, host: string): boolean {
  let h = host;
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (net.isIP(h)) return c.checkIP(h) !== undefined;
  h = h.replace(/\.$/, '');
  return c.checkHost(h, { subject: 'never', wildcards: true, partialWildcards: false, multiLabelWildcards: false, singleLabelSubdomains: false }) !== undefined;
}

/** Go's crypto/tls alert texts for the alerts OpenSSL reports as ERR_SSL_*_ALERT_<NAME>. */
const GO_ALERT_TEXT: Record<string, string> = {
  CLOSE_NOTIFY: 'close notify',
  UNEXPECTED_MESSAGE: 'unexpected message',
  BAD_RECORD_MAC: 'bad record MAC',
  HANDSHAKE_FAILURE: 'handshake failure',
  BAD_CERTIFICATE: 'bad certificate',
  UNSUPPORTED_CERTIFICATE: 'unsupported certificate',
  CERTIFICATE_REVOKED: 'revoked certificate',
  CERTIFICATE_EXPIRED: 'expired certificate',
  CERTIFICATE_UNKNOWN: 'unknown certificate',
  ILLEGAL_PARAMETER: 'illegal parameter',
  UNKNOWN_CA: 'unknown certificate authority',
  ACCESS_DENIED: 'access denied',
  DECODE_ERROR: 'error decoding message',
  DECRYPT_ERROR: 'error decrypting message',
  PROTOCOL_VERSION: 'protocol version not supported',
  INSUFFICIENT_SECURITY: 'insufficient security level',
  INTERNAL_ERROR: 'internal error',
  CERTIFICATE_REQUIRED: 'certificate required',
  NO_APPLICATION_PROTOCOL: 'no application protocol',
};

/**
 * The text Go's crypto/tls gives a TLS error: a fatal alert received from the other
 * side (OpenSSL code ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE, ...) becomes
 * `remote error: tls: bad certificate`, a client that sent no certificate where one
 * is required `tls: client didn't provide a certificate`; other errors keep their message.
 */
export function goTlsErrorText(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return "tls: client didn't provide a certificate";
  const m = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(.+)$/.exec(code);
  if (m) return `remote error: tls: ${GO_ALERT_TEXT[m[1]!] ?? m[1]!.toLowerCase().replace(/_/g, ' ')}`;
  return err.message;
}

function hkdfExpandLabel(hash: string, secret: Buffer, label: string, length: number): Buffer {
  const l = Buffer.from(`tls13 ${label}`, 'latin1');
  const info = Buffer.concat([Buffer.from([length >> 8, length & 0xff, l.length]), l, Buffer.from([0])]);
  return expand(hash, secret, info, length);
}

/** HKDF-Expand (RFC 5869) of a pseudorandom key that is already extracted. */
function expand(hash: string, prk: Buffer, info: Buffer, length: number): Buffer {
  const out: Buffer[] = [];
  let t = Buffer.alloc(0);
  let n = 0;
  for (let i = 1; n < length; i++) {
    t = crypto.createHmac(hash, prk).update(Buffer.concat([t, info, Buffer.from([i])])).digest();
    out.push(t);
    n += t.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

/**
 * A TLS 1.3 record holding a fatal alert (`description`, e.g. 42 bad_certificate),
 * protected with the traffic `secret` of `cipher` (RFC 8446 §5.2, §7.3) as the
 * record of sequence number 0. Undefined for ciphers it does not know.
 */
export function tls13AlertRecord(cipher: string, secret: Buffer, description: number): Buffer | undefined {
  const suites: Record<string, [string, string, number]> = {
    TLS_AES_128_GCM_SHA256: ['sha256', 'aes-128-gcm', 16],
    TLS_AES_256_GCM_SHA384: ['sha384', 'aes-256-gcm', 32],
    TLS_CHACHA20_POLY1305_SHA256: ['sha256', 'chacha20-poly1305', 32],
  };
  const s = suites[cipher];
  if (!s) return undefined;
  const [hash, alg, keyLen] = s;
  const key = hkdfExpandLabel(hash, secret, 'key', keyLen);
  const iv = hkdfExpandLabel(hash, secret, 'iv', 12); // nonce = iv XOR sequence 0
  const inner = Buffer.from([2, description, 21]); // level fatal, description, content type alert
  const len = inner.length + 16;
  const header = Buffer.from([23, 3, 3, len >> 8, len & 0xff]);
  const c = crypto.createCipheriv(alg as 'aes-128-gcm', key, iv, { authTagLength: 16 });
  c.setAAD(header);
  return Buffer.concat([header, c.update(inner), c.final(), c.getAuthTag()]);
}

/**
 * tls.connect for a client whose server certificate must also pass `check`
 * (from {@link allowedCertCheck}); `options` are those an https.Agent passes to
 * createConnection (host, port, servername, cert, key, ca, localAddress, ...).
 * The default hostname check runs first. When `check` rejects, the socket fails
 * with its Error and the server gets the `bad_certificate` alert as from a Go client
 * (see the module doc).
 */
export function connectCheckedTls(options: tls.ConnectionOptions & net.TcpNetConnectOpts, check: (leaf: X509Certificate | undefined, verified: boolean) => Error | undefined): tls.TLSSocket {
  const raw = net.connect({ host: options.host ?? 'localhost', port: options.port, ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
  let handshakeSecret: Buffer | undefined;
  let alert: Buffer | undefined;
  let sentEncrypted = false;
  // records of what we have sent so far: an alert may only stand where our Certificate flight would
  let pending = Buffer.alloc(0);
  const track = (b: Buffer) => {
    pending = Buffer.concat([pending, b]);
    while (pending.length >= 5) {
      if (pending[0] === 23) sentEncrypted = true;
      const n = 5 + pending.readUInt16BE(3);
      if (pending.length < n) break;
      pending = pending.subarray(n);
    }
  };
  const finish = () => {
    if (alert && !sentEncrypted) raw.end(alert);
    else raw.destroy();
  };
  const pipe = new Duplex({
    read() {
      raw.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      track(chunk);
      raw.write(chunk, (err) => cb(err ?? null));
    },
    final(cb) {
      finish();
      cb();
    },
    destroy(err, cb) {
      finish();
      cb(err);
    },
  });
  raw.on('data', (b: Buffer) => {
    if (!pipe.push(b)) raw.pause();
  });
  raw.on('end', () => pipe.push(null));
  raw.on('error', (err) => pipe.destroy(err));
  const sock: tls.TLSSocket = tls.connect({
    ...options,
    socket: pipe,
    checkServerIdentity: (host, cert) => {
      const err = tls.checkServerIdentity(host, cert);
      if (err) return err;
      // Node calls this only once the chain verified against the trusted CA
      const rejected = check(sock.getPeerX509Certificate(), true);
      if (rejected) {
        const c = sock.getCipher();
        if (c?.version === 'TLSv1.3' && handshakeSecret) alert = tls13AlertRecord(c.standardName, handshakeSecret, 42);
      }
      return rejected;
    },
  });
  sock.once('secureConnect', () => {
    // an unverified chain (rejectUnauthorized off) skipped checkServerIdentity: Go has no verified chain then
    if (!sock.authorized) sock.destroy(check(sock.getPeerX509Certificate(), false));
  });
  sock.on('keylog', (line: Buffer) => {
    const [label, , secret] = line.toString('latin1').trim().split(' ');
    if (label === 'CLIENT_HANDSHAKE_TRAFFIC_SECRET' && secret) handshakeSecret = Buffer.from(secret, 'hex');
  });
  return sock;
}

/**
 * An https.Agent whose connections also check the server's certificate with `check`
 * (from {@link allowedCertCheck}) through {@link connectCheckedTls}: for outgoing peer
 * requests when --peer-cert-allowed-cn / --peer-cert-allowed-hostname is set.
 */
export class CheckedPeerAgent extends https.Agent {
  constructor(
    opts: https.AgentOptions,
    private readonly check: NonNullable<ReturnType<typeof allowedCertCheck>>,
  ) {
    super(opts);
  }

  /** Overrides https.Agent's (undeclared in @types/node) connection factory. */
  override createConnection(options: tls.ConnectionOptions & net.TcpNetConnectOpts): tls.TLSSocket {
    return connectCheckedTls(options, this.check);
  }
}
