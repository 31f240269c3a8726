/**
 * @module gen-support/pack-descriptor
 * Build-time half of file-desc-json.ts: decodes a generated file's embedded descriptor
 * (the base64 FileDescriptorProto protoc-gen-es writes into `fileDesc("...")`) and
 * returns the JSON that `fileDescJson` hydrates: per message object only the fields set
 * on the wire (own properties, with `$typeName`), plus one defaults object per message
 * type. Field JSON names are restored exactly as protobuf-es's restoreJsonNames does.
 * Used by scripts/build.mjs; tested against `fileDesc` in test/gen-support.
 */

import { fromBinary } from '@bufbuild/protobuf';
import { protoCamelCase } from '@bufbuild/protobuf/reflect';
import { FileDescriptorProtoSchema, type DescriptorProto } from '@bufbuild/protobuf/wkt';

/**
 * @param b64 the base64 string passed to `fileDesc` in a generated file
 * @returns JSON text `{p: {typeName: defaults}, r: root}`
 * @throws Error if the descriptor holds 64-bit integers or bytes (not JSON-safe; the etcd
 *   protos have none)
 */
export function packDescriptor(b64: string): string {
  const root = fromBinary(FileDescriptorProtoSchema, Buffer.from(b64, 'base64'));
  const restoreJsonNames = (m: DescriptorProto) => {
    for (const f of m.field) {
      if (!Object.prototype.hasOwnProperty.call(f, 'jsonName') || f.jsonName === undefined) f.jsonName = protoCamelCase(f.name);
    }
    m.nestedType.forEach(restoreJsonNames);
  };
  root.messageType.forEach(restoreJsonNames);
  const defaults: Record<string, Record<string, unknown>> = {};
  const pack = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(pack);
    if (typeof v === 'bigint') throw new Error('packDescriptor: 64-bit integer in a descriptor');
    if (v === null || typeof v !== 'object') return v;
    if (v instanceof Uint8Array) throw new Error('packDescriptor: bytes in a descriptor');
    const o = v as Record<string, unknown>;
    const t = o.$typeName as string | undefined;
    if (t !== undefined && !defaults[t]) {
      const proto = Object.getPrototypeOf(o) as object | null;
      defaults[t] = proto && proto !== Object.prototype ? { ...proto } : {};
    }
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(o)) if (o[k] !== undefined) out[k] = pack(o[k]);
    return out;
  };
  return JSON.stringify({ p: defaults, r: pack(root) });
}
