/**
 * @module server/embed/crl
 * Certificate revocation lists on TLS listeners (etcd 3.4 pkg/transport
 * listener_tls.go: `--client-crl-file`, and `--peer-crl-file` for peer
 * listeners once they use TLS).
 *
 * etcd's rule, kept here: after the TLS handshake of a connection that
 * presented certificates, the CRL file is read again (so an updated file takes
 * effect without a restart) and every certificate of the peer's chain whose
 * serial number is listed as revoked gets the connection closed, logged as
 * "rejected connection" with `transport: certificate serial <hex> revoked`.
 * Only serial numbers are compared (not the CRL's issuer or signature), as
 * etcd does. A CRL that cannot be read or parsed rejects the connection too.
 * The file may be PEM (`X509 CRL`) or DER.
 */

import fs from 'node:fs';
import type tls from 'node:tls';

/** A DER TLV: tag, content start/end offsets. */
interface Tlv {
  tag: number;
  start: number;
  end: number;
}

function readTlv(b: Uint8Array, off: number, limit: number): Tlv {
  if (off + 2 > limit) throw new Error('asn1: syntax error: data truncated');
  const tag = b[off]!;
  if ((tag & 0x1f) === 0x1f) throw new Error('asn1: syntax error: high-tag-number form not supported here');
  let len = b[off + 1]!;
  let p = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error('asn1: syntax error: invalid length');
    len = 0;
    for (let i = 0; i < n; i++) {
      if (p >= limit) throw new Error('asn1: syntax error: data truncated');
      len = len * 256 + b[p++]!;
    }
  }
  if (p + len > limit) throw new Error('asn1: syntax error: data truncated');
  return { tag, start: p, end: p + len };
}

/** The children of a constructed TLV. */
function children(b: Uint8Array, t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = t.start; p < t.end;) {
    const c = readTlv(b, p, t.end);
    out.push(c);
    p = c.end;
  }
  return out;
}

const SEQUENCE = 0x30;
const INTEGER = 0x02;

/** An INTEGER's magnitude as lower-case hex without leading zero bytes (Go big.Int.Bytes()). */
function serialHex(b: Uint8Array, t: Tlv): string {
  let s = t.start;
  while (s < t.end - 1 && b[s] === 0) s++;
  return Buffer.from(b.subarray(s, t.end)).toString('hex');
}

/** Normalizes a hex serial (Node's X509Certificate.serialNumber) the same way. */
export function normalizeSerial(hex: string): string {
  const h = hex.toLowerCase().replace(/^(00)+(?=..)/, '');
  return h.length % 2 ? `0${h}` : h;
}

/**
 * The revoked serial numbers of a CRL (PEM `X509 CRL` or DER), normalized by
 * {@link normalizeSerial}. Throws Error for data that is not a CRL.
 */
export function parseCrlSerials(data: Uint8Array): Set<string> {
  let der = data;
  const text = Buffer.from(data).toString('latin1');
  const m = /-----BEGIN X509 CRL-----([\s\S]*?)-----END X509 CRL-----/.exec(text);
  if (m) der = Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
  else if (text.includes('-----BEGIN')) throw new Error('x509: no CRL in PEM data');
  const top = readTlv(der, 0, der.length);
  if (top.tag !== SEQUENCE) throw new Error('asn1: structure error: CRL is not a SEQUENCE');
  const [tbs] = children(der, top);
  if (!tbs || tbs.tag !== SEQUENCE) throw new Error('asn1: structure error: no tbsCertList');
  const fields = children(der, tbs);
  // version INTEGER OPTIONAL, signature, issuer, thisUpdate, nextUpdate OPTIONAL (a Time),
  // revokedCertificates SEQUENCE OF OPTIONAL, [0] crlExtensions OPTIONAL
  let i = fields[0]?.tag === INTEGER ? 1 : 0;
  i += 3; // signature, issuer, thisUpdate
  const isTime = (t: Tlv | undefined) => t !== undefined && (t.tag === 0x17 || t.tag === 0x18);
  if (isTime(fields[i])) i++;
  const serials = new Set<string>();
  const revoked = fields[i];
  if (revoked && revoked.tag === SEQUENCE) {
    for (const entry of children(der, revoked)) {
      const [serial] = children(der, entry);
      if (!serial || serial.tag !== INTEGER) throw new Error('asn1: structure error: revoked entry without a serial number');
      serials.add(serialHex(der, serial));
    }
  }
  return serials;
}

/** The serial numbers of the certificates a TLS peer presented (leaf first). */
function peerSerials(socket: tls.TLSSocket): string[] {
  const out: string[] = [];
  let c = socket.getPeerCertificate(true) as tls.DetailedPeerCertificate | Record<string, never>;
  const seen = new Set<string>();
  while (c && 'serialNumber' in c && c.serialNumber && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    out.push(normalizeSerial(c.serialNumber));
    c = c.issuerCertificate;
  }
  return out;
}

/**
 * etcd checkCRL for one connection: undefined if the peer presented no
 * certificate or none of them is revoked by the CRL in `crlFile` (read now);
 * otherwise the reason to reject it (`transport: certificate serial <hex>
 * revoked`, or the read/parse error).
 */
export function checkCrl(crlFile: string, socket: tls.TLSSocket): Error | undefined {
  const serials = peerSerials(socket);
  if (serials.length === 0) return undefined;
  let revoked: Set<string>;
  try {
    revoked = parseCrlSerials(fs.readFileSync(crlFile));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') return new Error(`open ${crlFile}: no such file or directory`);
    return err;
  }
  // etcd prints string(SerialNumber.Bytes()) with %x: the minimal big-endian bytes, two hex
  // digits each (no sign-padding 00 byte, but a leading zero digit kept)
  for (const s of serials) if (revoked.has(s)) return new Error(`transport: certificate serial ${goSerialHex(s)} revoked`);
  return undefined;
}

/**
 * Wraps a `secureConnection` handler with the CRL check of `crlFile` (empty:
 * no check): a rejected socket is passed to `onReject` with the reason and
 * destroyed instead of reaching `handler`.
 */
export function withCrlCheck(
  crlFile: string,
  handler: (s: tls.TLSSocket) => void,
  onReject: (s: tls.TLSSocket, err: Error) => void,
): (s: tls.TLSSocket) => void {
  if (!crlFile) return handler;
  return (s) => {
    const err = checkCrl(crlFile, s);
    if (err) {
      onReject(s, err);
      s.destroy();
      return;
    }
    handler(s);
  };
}

/** Hex of a serial as etcd's checkCRL prints it: big.Int.Bytes() under %x (even length, no 00 pad byte). */
export function goSerialHex(hex: string): string {
  const h = BigInt(`0x${hex}`).toString(16);
  return h.length % 2 === 1 ? `0${h}` : h;
}
