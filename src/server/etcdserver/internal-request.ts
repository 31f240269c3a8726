/**
 * Encoding of InternalRaftRequest entries on the proposal path without
 * reflection (etcd marshals a pb.InternalRaftRequest per proposal; the
 * reflective protobuf-es encoder costs more than the rest of a put).
 *
 * An entry is `field 100 (header) | field N (the request)`: the header is
 * written by hand (three scalar fields) and the request with its own
 * message's binary encoding, so the bytes are exactly what
 * `toBinary(InternalRaftRequestSchema, ...)` writes for the same message,
 * with fields in a different order (allowed by protobuf; our decoder and
 * etcd's accept any order). {@link readRequestId} reads the header's ID back
 * without decoding the request, so the proposing member can apply the
 * request object it still holds instead of decoding its own entry.
 */
import { create, isMessage, toBinary, type DescMessage, type Message } from '@bufbuild/protobuf';
import type { InternalRaftRequest } from '../../gen/etcdserverpb/raft_internal_pb.js';
import { InternalRaftRequestSchema } from '../../gen/etcdserverpb/raft_internal_pb.js';

const utf8 = new TextEncoder();

/** The header fields (etcdserverpb.RequestHeader). */
export interface InternalHeader {
  readonly ID: bigint;
  readonly username: string;
  readonly authRevision: bigint;
}

/** InternalRaftRequest field number and message schema of each request field, by local name (e.g. `put`). */
const REQUEST_FIELDS = new Map<string, { readonly number: number; readonly schema: DescMessage }>();
for (const f of InternalRaftRequestSchema.fields) {
  if (f.fieldKind === 'message' && f.localName !== 'header') REQUEST_FIELDS.set(f.localName, { number: f.number, schema: f.message });
}

function varintSize(v: bigint | number): number {
  let n = 1;
  let x = BigInt.asUintN(64, BigInt(v));
  while (x >= 0x80n) {
    x >>= 7n;
    n++;
  }
  return n;
}

function writeVarint(buf: Uint8Array, pos: number, v: bigint | number): number {
  if (typeof v === 'number' && v >= 0 && v < 0x80000000) {
    while (v >= 0x80) {
      buf[pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[pos++] = v;
    return pos;
  }
  let x = BigInt.asUintN(64, BigInt(v));
  while (x >= 0x80n) {
    buf[pos++] = Number(x & 0x7fn) | 0x80;
    x >>= 7n;
  }
  buf[pos++] = Number(x);
  return pos;
}

/** Tag bytes of a length-delimited field. */
function tag(fieldNumber: number): number {
  return (fieldNumber << 3) | 2;
}

/**
 * Request messages as they arrived on the wire (set by the gRPC layer for
 * requests it decodes and passes on unchanged): {@link encodeInternalRequest}
 * embeds these bytes instead of encoding the message again.
 */
export const wireBytes = new WeakMap<object, Uint8Array>();

/** A request ready to propose: its entry bytes and the object the proposer applies. */
export interface EncodedRequest {
  readonly data: Uint8Array;
  /** An InternalRaftRequest with just `header` and the request field set (what decoding `data` gives). */
  readonly request: InternalRaftRequest;
}

/**
 * Encodes `{header, [field]: request}` as an InternalRaftRequest; `request` is
 * a message of the field's type or an init object for one. Throws Error for
 * an unknown request field name.
 */
export function encodeInternalRequest(header: InternalHeader, field: string, request: object): EncodedRequest {
  const f = REQUEST_FIELDS.get(field);
  if (!f) throw new Error(`InternalRaftRequest has no request field ${field}`);
  const msg: Message = isMessage(request, f.schema) ? request : create(f.schema, request as never);
  const body = wireBytes.get(msg) ?? toBinary(f.schema, msg as never);
  const user = header.username === '' ? undefined : utf8.encode(header.username);
  let hlen = 0;
  if (header.ID !== 0n) hlen += 1 + varintSize(header.ID);
  if (user) hlen += 1 + varintSize(user.length) + user.length;
  if (header.authRevision !== 0n) hlen += 1 + varintSize(header.authRevision);
  const t100 = tag(100);
  const total = varintSize(t100) + varintSize(hlen) + hlen + varintSize(tag(f.number)) + varintSize(body.length) + body.length;
  const out = new Uint8Array(total);
  let p = writeVarint(out, 0, t100);
  p = writeVarint(out, p, hlen);
  if (header.ID !== 0n) {
    out[p++] = 0x08;
    p = writeVarint(out, p, header.ID);
  }
  if (user) {
    out[p++] = 0x12;
    p = writeVarint(out, p, user.length);
    out.set(user, p);
    p += user.length;
  }
  if (header.authRevision !== 0n) {
    out[p++] = 0x18;
    p = writeVarint(out, p, header.authRevision);
  }
  p = writeVarint(out, p, tag(f.number));
  p = writeVarint(out, p, body.length);
  out.set(body, p);
  const obj = {
    $typeName: InternalRaftRequestSchema.typeName,
    ID: 0n,
    header: { $typeName: 'etcdserverpb.RequestHeader', ID: header.ID, username: header.username, authRevision: header.authRevision },
    [field]: msg,
  } as unknown as InternalRaftRequest;
  return { data: out, request: obj };
}

function readVarint(b: Uint8Array, pos: number): [bigint, number] {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= b.length || shift > 63n) return [-1n, -1];
    const c = b[pos++]!;
    v |= BigInt(c & 0x7f) << shift;
    if (c < 0x80) return [v, pos];
    shift += 7n;
  }
}

/**
 * The header ID of an encoded InternalRaftRequest, found by skipping fields up
 * to the header (field 100); 0n when there is none or the bytes are malformed
 * (the caller then decodes the entry normally).
 */
export function readRequestId(b: Uint8Array): bigint {
  let p = 0;
  while (p < b.length) {
    const [key, p1] = readVarint(b, p);
    if (p1 < 0) return 0n;
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    p = p1;
    if (wire === 0) {
      const [, p2] = readVarint(b, p);
      if (p2 < 0) return 0n;
      p = p2;
    } else if (wire === 2) {
      const [len, p2] = readVarint(b, p);
      if (p2 < 0 || p2 + Number(len) > b.length) return 0n;
      if (field === 100) {
        const end = p2 + Number(len);
        let q = p2;
        while (q < end) {
          const [hk, q1] = readVarint(b, q);
          if (q1 < 0) return 0n;
          const hw = Number(hk & 7n);
          if (hk === 0x08n) return readVarint(b, q1)[0];
          if (hw === 0) q = readVarint(b, q1)[1];
          else if (hw === 2) {
            const [l, q2] = readVarint(b, q1);
            q = q2 + Number(l);
          } else return 0n;
          if (q < 0) return 0n;
        }
        return 0n;
      }
      p = p2 + Number(len);
    } else if (wire === 1) p += 8;
    else if (wire === 5) p += 4;
    else return 0n;
  }
  return 0n;
}
