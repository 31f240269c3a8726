/**
 * @module cli/printer/go-json
 * Go `encoding/json` output for the values etcdctl marshals: gogo-generated protobuf
 * structs (fields in declaration order, named by their proto names, `omitempty`,
 * bytes as standard base64, 64-bit integers as bare numbers, enums as numbers, oneofs
 * as `"OneofName":{"FieldName":...}`) and a few hand-made Go structs (watch and lease
 * responses, endpoint lists). `JSON.stringify` cannot produce this: it has no bigint,
 * no base64 bytes and different string escaping.
 */

import { ScalarType, type DescField, type DescMessage, type DescOneof } from '@bufbuild/protobuf';

/** A JSON fragment already encoded; used to compose hand-made Go structs. */
export class Raw {
  constructor(readonly json: string) {}
}

/**
 * Encodes a string as Go's encoding/json does (HTML-safe: `<`, `>`, `&` escaped,
 * U+2028/U+2029 escaped, control characters as `\u00XX` except `\n`, `\r`, `\t`).
 */
export function jsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    switch (c) {
      case 0x22: out += '\\"'; continue;
      case 0x5c: out += '\\\\'; continue;
      case 0x0a: out += '\\n'; continue;
      case 0x0d: out += '\\r'; continue;
      case 0x09: out += '\\t'; continue;
      case 0x3c: out += '\\u003c'; continue;
      case 0x3e: out += '\\u003e'; continue;
      case 0x26: out += '\\u0026'; continue;
      case 0x2028: out += '\\u2028'; continue;
      case 0x2029: out += '\\u2029'; continue;
    }
    if (c < 0x20) out += '\\u00' + c.toString(16).padStart(2, '0');
    else if (c >= 0xd800 && c <= 0xdfff) {
      // a lone surrogate is invalid UTF-8 in Go: it becomes U+FFFD
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) { out += s[i]! + s[i + 1]!; i++; }
      else out += '\ufffd';
    } else out += s[i];
  }
  return out + '"';
}

/** Go's json encoding of a []byte: standard base64 with padding; nil/empty → `null` unless omitted. */
export function jsonBytes(b: Uint8Array): string {
  return '"' + Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64') + '"';
}

/** Go's `CamelCase` of a proto name (`response_put` → `ResponsePut`), used for oneof fields. */
export function goCamel(name: string): string {
  return name
    .split('_')
    .map((p) => (p.length ? p[0]!.toUpperCase() + p.slice(1) : p))
    .join('');
}

type AnyMessage = Record<string, unknown>;

function isZeroScalar(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (typeof v === 'bigint') return v === 0n;
  if (typeof v === 'number') return v === 0;
  if (typeof v === 'boolean') return !v;
  if (typeof v === 'string') return v.length === 0;
  if (v instanceof Uint8Array) return v.length === 0;
  return false;
}

function scalarJson(type: ScalarType, v: unknown): string {
  switch (type) {
    case ScalarType.BYTES: return jsonBytes(v as Uint8Array);
    case ScalarType.STRING: return jsonString(v as string);
    case ScalarType.BOOL: return v ? 'true' : 'false';
    default: return String(v);
  }
}

function fieldValueJson(f: DescField, v: unknown): string {
  switch (f.fieldKind) {
    case 'scalar': return scalarJson(f.scalar, v);
    case 'enum': return String(v);
    case 'message': return messageJson(f.message, v as AnyMessage);
    case 'list': {
      const items = v as unknown[];
      const enc = (x: unknown) =>
        f.listKind === 'scalar' ? scalarJson(f.scalar, x) : f.listKind === 'enum' ? String(x) : messageJson(f.message, x as AnyMessage);
      return '[' + items.map(enc).join(',') + ']';
    }
    case 'map': throw new Error('map fields are not used by the etcd API');
  }
}

function isZeroField(f: DescField, v: unknown): boolean {
  if (f.fieldKind === 'list') return (v as unknown[]).length === 0;
  if (f.fieldKind === 'message') return v === undefined;
  return isZeroScalar(v);
}

/**
 * Encodes a protobuf-es message the way Go's json.Marshal encodes the gogo-generated
 * struct for the same message (as etcdctl's `-w json` prints it).
 * @param desc the message descriptor (a `...Schema` from src/gen)
 * @param msg the message; `undefined` encodes as `null` (a nil pointer)
 */
export function messageJson(desc: DescMessage, msg: AnyMessage | undefined): string {
  if (msg === undefined || msg === null) return 'null';
  const parts: string[] = [];
  for (const m of desc.members) {
    if (m.kind === 'oneof') {
      parts.push(`"${goCamel(m.name)}":${oneofJson(m, msg[m.localName] as { case?: string; value?: unknown })}`);
      continue;
    }
    const v = msg[m.localName];
    if (isZeroField(m, v)) continue;
    parts.push(`${jsonString(m.name)}:${fieldValueJson(m, v)}`);
  }
  return '{' + parts.join(',') + '}';
}

function oneofJson(o: DescOneof, sel: { case?: string; value?: unknown }): string {
  if (!sel || sel.case === undefined) return 'null';
  const f = o.fields.find((x) => x.localName === sel.case)!;
  // Go wraps the chosen field in a struct with one field named after it, without a json tag.
  return `{"${goCamel(f.name)}":${fieldValueJson(f, sel.value)}}`;
}

/**
 * Encodes a hand-made Go struct given as ordered [name, value] pairs. Values may be
 * Raw fragments, strings, numbers, bigints, booleans, null, or arrays of those.
 * Pairs whose value is `undefined` are omitted (an `omitempty` zero).
 */
export function structJson(fields: ReadonlyArray<readonly [string, unknown]>): string {
  const parts: string[] = [];
  for (const [k, v] of fields) {
    if (v === undefined) continue;
    parts.push(`${jsonString(k)}:${valueJson(v)}`);
  }
  return '{' + parts.join(',') + '}';
}

/** Encodes a plain value for structJson. */
export function valueJson(v: unknown): string {
  if (v instanceof Raw) return v.json;
  if (v === null) return 'null';
  if (typeof v === 'string') return jsonString(v);
  if (typeof v === 'bigint' || typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof Uint8Array) return jsonBytes(v);
  if (Array.isArray(v)) return '[' + v.map(valueJson).join(',') + ']';
  throw new Error(`cannot encode ${typeof v} as Go JSON`);
}

/** The fields of a message as [name, Raw] pairs with Go's omitempty, for embedding (flattening) into a struct. */
export function messageFields(desc: DescMessage, msg: AnyMessage | undefined): Array<[string, unknown]> {
  if (!msg) return [];
  const out: Array<[string, unknown]> = [];
  for (const m of desc.members) {
    if (m.kind === 'oneof') continue;
    const v = msg[m.localName];
    if (isZeroField(m, v)) continue;
    out.push([m.name, new Raw(fieldValueJson(m, v))]);
  }
  return out;
}
