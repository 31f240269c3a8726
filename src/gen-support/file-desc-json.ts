/**
 * @module gen-support/file-desc-json
 * Fast start-up for the generated protobuf descriptors. protoc-gen-es embeds each file's
 * FileDescriptorProto as base64 and decodes it at load time with protobuf-es's reflective
 * decoder, which first has to bootstrap descriptor.proto itself: together about half of
 * the CLI's start-up work. The CLI bundle (scripts/build.mjs) decodes them at build time
 * instead and embeds the result as JSON; this module turns that JSON back into the same
 * objects and registers them exactly as `fileDesc` does.
 *
 * JSON shape: `{ p: { <typeName>: <defaults> }, r: <root> }` where every message object
 * carries `$typeName` and only the fields that were set on the wire (as own properties);
 * defaults live on a per-type prototype, as in messages protobuf-es creates — the
 * registry tells "set" from "default" by own properties (e.g. `oneofIndex`).
 */

import { createFileRegistry, type DescFile } from '@bufbuild/protobuf';
import { unwrapLazy } from './lazy-desc.js';

interface Packed {
  p: Record<string, Record<string, unknown>>;
  r: Record<string, unknown>;
}

/**
 * Hydrates a file descriptor from the JSON written by the build.
 * @param json `{p, r}` as above
 * @param lazyImports the descriptors of the files this one depends on (lazy ones are built
 *   here: the registry gets the real objects)
 */
export function fileDescJson(json: string, lazyImports?: DescFile[]): DescFile {
  const imports = lazyImports?.map(unwrapLazy);
  const packed = JSON.parse(json) as Packed;
  const protos = new Map<string, object>();
  // gives every typed object its type's prototype in place (copying the tree costs
  // twice as much, and this runs at every CLI start)
  const revive = (v: unknown): void => {
    if (v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) revive(v[i]);
      return;
    }
    const o = v as Record<string, unknown>;
    for (const k in o) revive(o[k]);
    const t = o.$typeName as string | undefined;
    if (t === undefined) return;
    let proto = protos.get(t);
    if (!proto) {
      proto = Object.assign({}, packed.p[t] ?? {});
      protos.set(t, proto);
    }
    Object.setPrototypeOf(o, proto);
  };
  revive(packed.r);
  const root = packed.r as unknown as { name: string; dependency: string[] };
  root.dependency = imports?.map((f) => f.proto.name) ?? [];
  const reg = createFileRegistry(root as never, (name) => imports?.find((f) => f.proto.name === name));
  return reg.getFile(root.name)!;
}
