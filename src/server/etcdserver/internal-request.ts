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
import { putUvarint, readLength, readTag, readUvarint, uvarintSize, type WireCursor } from '../../util/protowire.js';
import { wireBytes } from './proposals.js';

const utf8 = new TextEncoder();

/** The request fields of an InternalRaftRequest (every message field but `header`), e.g. `put`. */
export type InternalRequestField = Exclude<{ [K in keyof InternalRaftRequest]-?: NonNullable<InternalRaftRequest[K]> extends Message ? K : never }[keyof InternalRaftRequest], 'header'> & string;

/** The request message type of field `F` (e.g. PutRequest for `put`). */
export type InternalRequestOf<F extends InternalRequestField> = NonNullable<InternalRaftRequest[F]>;

/** A value for `create()`: the message itself or a plain object with some of its fields (nested alike). */
export type MessageInit<T> = T extends Message ? T | { [K in Exclude<keyof T, '$typeName' | '$unknown'>]?: MessageInit<T[K]> } : T extends readonly (infer E)[] ? readonly MessageInit<E>[] : T;

/** What may be proposed as field `F`: its message or an init object for one. */
export type InternalRequestInit<F extends InternalRequestField> = MessageInit<InternalRequestOf<F>>;

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

/** Tag bytes of a length-delimited field. */
function tag(fieldNumber: number): number {
  return (fieldNumber << 3) | 2;
}

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
export function encodeInternalRequest<F extends InternalRequestField>(header: InternalHeader, field: F, request: InternalRequestInit<F>): EncodedRequest {
  const f = REQUEST_FIELDS.get(field);
  if (!f) throw new Error(`InternalRaftRequest has no request field ${field}`);
  const msg: Message = isMessage(request, f.schema) ? request : create(f.schema, request as never);
  const body = wireBytes.get(msg) ?? toBinary(f.schema, msg as never);
  const user = header.username === '' ? undefined : utf8.encode(header.username);
  let hlen = 0;
  if (header.ID !== 0n) hlen += 1 + uvarintSize(header.ID);
  if (user) hlen += 1 + uvarintSize(user.length) + user.length;
  if (header.authRevision !== 0n) hlen += 1 + uvarintSize(header.authRevision);
  const t100 = tag(100);
  const total = uvarintSize(t100) + uvarintSize(hlen) + hlen + uvarintSize(tag(f.number)) + uvarintSize(body.length) + body.length;
  const out = new Uint8Array(total);
  let p = putUvarint(out, 0, t100);
  p = putUvarint(out, p, hlen);
  if (header.ID !== 0n) {
    out[p++] = 0x08;
    p = putUvarint(out, p, header.ID);
  }
  if (user) {
    out[p++] = 0x12;
    p = putUvarint(out, p, user.length);
    out.set(user, p);
    p += user.length;
  }
  if (header.authRevision !== 0n) {
    out[p++] = 0x18;
    p = putUvarint(out, p, header.authRevision);
  }
  p = putUvarint(out, p, tag(f.number));
  p = putUvarint(out, p, body.length);
  out.set(body, p);
  const obj = {
    $typeName: InternalRaftRequestSchema.typeName,
    ID: 0n,
    header: { $typeName: 'etcdserverpb.RequestHeader', ID: header.ID, username: header.username, authRevision: header.authRevision },
    [field]: msg,
  } as unknown as InternalRaftRequest;
  return { data: out, request: obj };
}

/**
 * The header ID of an encoded InternalRaftRequest, found by skipping fields up
 * to the header (field 100); 0n when there is none or the bytes are malformed
 * (the caller then decodes the entry normally).
 */
export function readRequestId(b: Uint8Array): bigint {
  const c: WireCursor = { pos: 0 };
  while (c.pos < b.length) {
    const key = readTag(b, c);
    if (key < 0) return 0n;
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) {
      if (readUvarint(b, c) < 0n) return 0n;
    } else if (wire === 2) {
      const len = readLength(b, c);
      if (len < 0) return 0n;
      if (field === 100) return headerId(b.subarray(c.pos, c.pos + len));
      c.pos += len;
    } else if (wire === 1) c.pos += 8;
    else if (wire === 5) c.pos += 4;
    else return 0n;
  }
  return 0n;
}

/** The ID (field 1) of an encoded RequestHeader; 0n when absent or malformed. */
function headerId(h: Uint8Array): bigint {
  const c: WireCursor = { pos: 0 };
  while (c.pos < h.length) {
    const key = readTag(h, c);
    if (key < 0) return 0n;
    const wire = key & 7;
    if (key === 0x08) {
      const id = readUvarint(h, c);
      return id < 0n ? 0n : id;
    }
    if (wire === 0) {
      if (readUvarint(h, c) < 0n) return 0n;
    } else if (wire === 2) {
      const len = readLength(h, c);
      if (len < 0) return 0n;
      c.pos += len;
    } else return 0n;
  }
  return 0n;
}
