/**
 * @module server/etcdserver/api/v3rpc/gateway/jsonpb
 * Protobuf messages ⇄ JSON as etcd 3.4's gRPC gateway does it (grpc-gateway
 * 1.x runtime.JSONPb{OrigName: true} over golang/protobuf 1.3 jsonpb):
 *
 * Writing ({@link marshalJson}): proto field names (`create_revision`,
 * `dbSize`, `ID`), fields in declaration order, zero values, empty lists and
 * unset messages left out (a set oneof member is always written), 64-bit
 * integers as decimal strings, 32-bit ones as numbers, bytes as standard
 * base64, enums by name, strings escaped as Go's encoding/json does (`<`, `>`,
 * `&`, U+2028, U+2029 as \uXXXX).
 *
 * Reading ({@link unmarshalJson}): each field by its proto name or its
 * lowerCamel JSON name (the latter wins when both are given), unknown fields
 * ignored, `null` leaves a field unset, numbers as JSON numbers or strings,
 * enums by name or number, bytes as standard base64 — with jsonpb's and
 * encoding/json's error texts, e.g. `illegal base64 data at input byte 4`,
 * `unknown value "X" for enum etcdserverpb.RangeRequest_SortOrder`,
 * `json: cannot unmarshal string into Go value of type int64`.
 */
import { create, ScalarType, type DescEnum, type DescField, type DescMessage, type DescOneof, type Message } from '@bufbuild/protobuf';
import { GoJsonError, goUnmarshalText, type JNode } from './gojson.js';

// ---------------------------------------------------------------- writing

/** Go encoding/json's string encoding (HTML-safe, as json.Marshal). */
export function goJsonString(s: string): string {
  let out = '"';
  let run = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let esc: string | undefined;
    if (c < 0x20 || c === 0x22 || c === 0x5c || c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) {
      if (c === 0x22) esc = '\\"';
      else if (c === 0x5c) esc = '\\\\';
      else if (c === 0x0a) esc = '\\n';
      else if (c === 0x0d) esc = '\\r';
      else if (c === 0x09) esc = '\\t';
      else esc = `\\u${c.toString(16).padStart(4, '0')}`;
    } else if (c >= 0xd800 && c < 0xe000) {
      // a lone surrogate is invalid UTF-8 in Go: written as U+FFFD
      const lo = s.charCodeAt(i + 1);
      if (c < 0xdc00 && lo >= 0xdc00 && lo < 0xe000) {
        i++;
        continue;
      }
      esc = '\ufffd';
    }
    if (esc !== undefined) {
      out += s.slice(run, i) + esc;
      run = i + 1;
    }
  }
  return `${out + s.slice(run)}"`;
}

function isInt64(t: ScalarType): boolean {
  return t === ScalarType.INT64 || t === ScalarType.UINT64 || t === ScalarType.SINT64 || t === ScalarType.FIXED64 || t === ScalarType.SFIXED64;
}

function scalarJson(t: ScalarType, v: unknown): string {
  if (isInt64(t)) return `"${String(v)}"`;
  switch (t) {
    case ScalarType.BOOL: return v ? 'true' : 'false';
    case ScalarType.STRING: return goJsonString(v as string);
    case ScalarType.BYTES: return `"${Buffer.from(v as Uint8Array).toString('base64')}"`;
    default: return String(v);
  }
}

function isZeroScalar(t: ScalarType, v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (t === ScalarType.BYTES) return (v as Uint8Array).length === 0;
  if (t === ScalarType.STRING) return v === '';
  if (t === ScalarType.BOOL) return v === false;
  return v === 0 || v === 0n;
}

function enumJson(e: DescEnum, n: number): string {
  const v = e.values.find((x) => x.number === n);
  return v ? `"${v.name}"` : String(n);
}

function valueJson(f: DescField, v: unknown): string {
  switch (f.fieldKind) {
    case 'scalar': return scalarJson(f.scalar, v);
    case 'enum': return enumJson(f.enum, v as number);
    case 'message': return marshalJson(f.message, v as Message);
    default: throw new Error(`jsonpb: unexpected field kind of ${f.name}`);
  }
}

/** The gateway's JSON of message `m` of type `desc` (see the module doc). */
export function marshalJson(desc: DescMessage, m: Message): string {
  const rec = m as unknown as Record<string, unknown>;
  const parts: string[] = [];
  for (const member of desc.members) {
    if (member.kind === 'oneof') {
      const o = rec[member.localName] as { case?: string; value?: unknown } | undefined;
      if (!o || o.case === undefined) continue;
      const f = member.fields.find((x) => x.localName === o.case);
      if (!f) continue;
      parts.push(`"${f.name}":${valueJson(f, o.value)}`);
      continue;
    }
    const f = member;
    const v = rec[f.localName];
    switch (f.fieldKind) {
      case 'scalar':
        if (isZeroScalar(f.scalar, v)) continue;
        parts.push(`"${f.name}":${scalarJson(f.scalar, v)}`);
        break;
      case 'enum':
        if (!v) continue;
        parts.push(`"${f.name}":${enumJson(f.enum, v as number)}`);
        break;
      case 'message':
        if (v === undefined || v === null) continue;
        parts.push(`"${f.name}":${marshalJson(f.message, v as Message)}`);
        break;
      case 'list': {
        const l = v as unknown[] | undefined;
        if (!l || l.length === 0) continue;
        const items = l.map((x) => (f.listKind === 'scalar' ? scalarJson(f.scalar, x) : f.listKind === 'enum' ? enumJson(f.enum, x as number) : marshalJson(f.message, x as Message)));
        parts.push(`"${f.name}":[${items.join(',')}]`);
        break;
      }
      case 'map': {
        const mp = v as Record<string, unknown> | undefined;
        const keys = mp ? Object.keys(mp).sort() : [];
        if (keys.length === 0) continue;
        const vf = { fieldKind: f.mapKind, scalar: f.scalar, enum: f.enum, message: f.message, name: f.name } as unknown as DescField;
        parts.push(`"${f.name}":{${keys.map((k) => `${goJsonString(k)}:${valueJson(vf, mp![k])}`).join(',')}}`);
        break;
      }
    }
  }
  return `{${parts.join(',')}}`;
}

// ---------------------------------------------------------------- reading

/** Go's name of a protobuf enum type as gogo registers it, e.g. etcdserverpb.RangeRequest_SortOrder. */
function goEnumName(e: DescEnum): string {
  const pkg = e.file.proto.package;
  const local = pkg ? e.typeName.slice(pkg.length + 1) : e.typeName;
  return `${pkg}.${local.replace(/\./g, '_')}`;
}

function goScalarTypeName(t: ScalarType): string {
  switch (t) {
    case ScalarType.INT64: case ScalarType.SINT64: case ScalarType.SFIXED64: return 'int64';
    case ScalarType.UINT64: case ScalarType.FIXED64: return 'uint64';
    case ScalarType.INT32: case ScalarType.SINT32: case ScalarType.SFIXED32: return 'int32';
    case ScalarType.UINT32: case ScalarType.FIXED32: return 'uint32';
    case ScalarType.BOOL: return 'bool';
    case ScalarType.STRING: return 'string';
    case ScalarType.BYTES: return '[]uint8';
    case ScalarType.DOUBLE: return 'float64';
    case ScalarType.FLOAT: return 'float32';
  }
}

/** encoding/json's name of a JSON value kind in UnmarshalTypeError. */
function kindName(n: JNode): string {
  switch (n.t) {
    case 'obj': return 'object';
    case 'arr': return 'array';
    case 'str': return 'string';
    case 'num': return 'number';
    case 'true': case 'false': return 'bool';
    case 'null': return 'null';
  }
}

function typeError(what: string, goType: string): GoJsonError {
  return new GoJsonError(`json: cannot unmarshal ${what} into Go value of type ${goType}`);
}

const INT_RANGES: Record<string, [bigint, bigint]> = {
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
};

/** json.Unmarshal of a number literal into a Go integer type (ParseInt/ParseUint of the literal). */
function parseGoInt(raw: string, goType: string, rangeName: string): bigint {
  const [lo, hi] = INT_RANGES[rangeName]!;
  const unsigned = rangeName.startsWith('u');
  if (!(unsigned ? /^[0-9]+$/ : /^-?[0-9]+$/).test(raw)) throw typeError(`number ${raw}`, goType);
  const v = BigInt(raw);
  if (v < lo || v > hi) throw typeError(`number ${raw}`, goType);
  return v;
}

/** The value of a numeric field: JSON number, or a string holding one (jsonpb strips the quotes). */
function numericNode(n: JNode): JNode {
  if (n.t !== 'str') return n;
  return goUnmarshalText(n.raw);
}

/** Go's base64.StdEncoding.Decode (non-strict; \r and \n skipped), with its CorruptInputError offsets. */
export function goBase64Decode(s: Buffer): Buffer {
  const map = (c: number): number => {
    if (c >= 0x41 && c <= 0x5a) return c - 0x41;
    if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 26;
    if (c >= 0x30 && c <= 0x39) return c - 0x30 + 52;
    if (c === 0x2b) return 62;
    if (c === 0x2f) return 63;
    return -1;
  };
  const bad = (at: number) => new GoJsonError(`illegal base64 data at input byte ${at}`);
  const out: number[] = [];
  let si = 0;
  while (si < s.length) {
    const d = [0, 0, 0, 0];
    let dlen = 4;
    let j = 0;
    let done = false;
    for (; j < 4; j++) {
      if (si === s.length) {
        if (j === 0) return Buffer.from(out);
        throw bad(si - j);
      }
      const c = s[si]!;
      si++;
      const v = map(c);
      if (v >= 0) {
        d[j] = v;
        continue;
      }
      if (c === 0x0a || c === 0x0d) {
        j--;
        continue;
      }
      if (c !== 0x3d) throw bad(si - 1);
      // padding
      if (j < 2) throw bad(si - 1);
      if (j === 2) {
        while (si < s.length && (s[si] === 0x0a || s[si] === 0x0d)) si++;
        if (si === s.length) throw bad(s.length);
        if (s[si] !== 0x3d) throw bad(si - 1);
        si++;
      }
      while (si < s.length && (s[si] === 0x0a || s[si] === 0x0d)) si++;
      if (si < s.length) throw bad(si);
      dlen = j;
      done = true;
      break;
    }
    const val = (d[0]! << 18) | (d[1]! << 12) | (d[2]! << 6) | d[3]!;
    const b = [(val >> 16) & 0xff, (val >> 8) & 0xff, val & 0xff];
    if (dlen === 4) out.push(...b);
    else if (dlen === 3) out.push(b[0]!, b[1]!);
    else if (dlen === 2) out.push(b[0]!);
    if (done) break;
  }
  return Buffer.from(out);
}

function scalarValue(t: ScalarType, n: JNode): unknown {
  const goType = goScalarTypeName(t);
  switch (t) {
    case ScalarType.STRING:
      if (n.t === 'str') return n.value;
      throw typeError(kindName(n), goType);
    case ScalarType.BOOL:
      if (n.t === 'true') return true;
      if (n.t === 'false') return false;
      throw typeError(kindName(n), goType);
    case ScalarType.BYTES:
      if (n.t === 'str') return new Uint8Array(goBase64Decode(Buffer.from(n.value, 'utf8')));
      throw typeError(kindName(n), goType);
    case ScalarType.DOUBLE: case ScalarType.FLOAT: {
      const v = numericNode(n);
      if (v.t === 'null') return undefined;
      if (v.t !== 'num') throw typeError(kindName(v), goType);
      return Number(v.raw);
    }
    default: {
      const v = numericNode(n);
      if (v.t === 'null') return undefined;
      if (v.t !== 'num') throw typeError(kindName(v), goType);
      const b = parseGoInt(v.raw, goType, goType);
      return isInt64(t) ? b : Number(b);
    }
  }
}

function enumValue(e: DescEnum, n: JNode): number | undefined {
  if (n.t === 'str') {
    const name = n.raw.toString('utf8');
    const v = e.values.find((x) => x.name === name);
    if (!v) throw new GoJsonError(`unknown value ${goJsonString(name)} for enum ${goEnumName(e)}`);
    return v.number;
  }
  if (n.t === 'null') return undefined;
  if (n.t !== 'num') throw typeError(kindName(n), goEnumName(e));
  return Number(parseGoInt(n.raw, goEnumName(e), 'int32'));
}

/** A field's value from its JSON; undefined leaves the field unset (null). */
function fieldValue(f: DescField, n: JNode): unknown {
  switch (f.fieldKind) {
    case 'scalar':
      if (n.t === 'null') return undefined;
      return scalarValue(f.scalar, n);
    case 'enum':
      return enumValue(f.enum, n);
    case 'message':
      if (n.t === 'null') return undefined;
      return unmarshalJson(f.message, n);
    case 'list': {
      if (n.t === 'null') return undefined;
      if (n.t !== 'arr') throw typeError(kindName(n), '[]json.RawMessage');
      return n.items.map((x) => {
        if (f.listKind === 'message') return x.t === 'null' ? create(f.message) : unmarshalJson(f.message, x);
        if (f.listKind === 'enum') return enumValue(f.enum, x) ?? 0;
        const v = x.t === 'null' ? undefined : scalarValue(f.scalar, x);
        return v ?? (f.scalar === ScalarType.BYTES ? new Uint8Array() : f.scalar === ScalarType.STRING ? '' : f.scalar === ScalarType.BOOL ? false : isInt64(f.scalar) ? 0n : 0);
      });
    }
    case 'map':
      throw new GoJsonError(`jsonpb: map field ${f.name} is not supported by the gateway`);
  }
}

/**
 * Message `desc` from JSON value `n` (jsonpb Unmarshaler{AllowUnknownFields: true}).
 * @throws GoJsonError with jsonpb's / encoding/json's error text
 */
export function unmarshalJson<T extends Message>(desc: DescMessage, n: JNode): T {
  const m = create(desc) as unknown as Record<string, unknown>;
  if (n.t === 'null') return m as unknown as T;
  if (n.t !== 'obj') throw typeError(kindName(n), 'map[string]json.RawMessage');
  const fields = new Map<string, JNode>();
  for (const [k, v] of n.entries) fields.set(k, v);
  const consume = (f: DescField): JNode | undefined => {
    let raw: JNode | undefined;
    if (fields.has(f.name)) {
      raw = fields.get(f.name);
      fields.delete(f.name);
    }
    if (fields.has(f.jsonName)) {
      raw = fields.get(f.jsonName);
      fields.delete(f.jsonName);
    }
    return raw;
  };
  // regular fields first, in declaration order; then the oneofs (jsonpb unmarshalValue)
  const oneofs: DescOneof[] = [];
  for (const member of desc.members) {
    if (member.kind === 'oneof') {
      oneofs.push(member);
      continue;
    }
    const raw = consume(member);
    if (raw === undefined) continue;
    const v = fieldValue(member, raw);
    if (v !== undefined) m[member.localName] = v;
  }
  for (const o of oneofs) {
    for (const f of o.fields) {
      if (fields.size === 0) break;
      const raw = consume(f);
      if (raw === undefined) continue;
      let v = fieldValue(f, raw);
      if (v === undefined) {
        // null: jsonpb allocates the oneof wrapper with a nil message, which gogo does not
        // marshal (the member is unset on the wire), or with a zero scalar, which it does
        if (f.fieldKind === 'message') {
          m[o.localName] = { case: undefined };
          continue;
        }
        v = f.fieldKind === 'enum' ? 0 : f.scalar === ScalarType.BYTES ? new Uint8Array() : f.scalar === ScalarType.STRING ? '' : f.scalar === ScalarType.BOOL ? false : isInt64(f.scalar!) ? 0n : 0;
      }
      m[o.localName] = { case: f.localName, value: v };
    }
  }
  return m as unknown as T;
}
