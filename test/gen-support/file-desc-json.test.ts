// The CLI bundle hydrates protobuf descriptors from build-time JSON instead of decoding
// base64 at start-up (src/gen-support). Check that the result is the same descriptor:
// every message, field, oneof, enum and service as `fileDesc` builds it, for every
// generated file, and that messages encode identically.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { create, toBinary, type DescFile } from '@bufbuild/protobuf';
import { fileDesc } from '@bufbuild/protobuf/codegenv2';
import { fileDescJson } from '../../src/gen-support/file-desc-json.js';
import { packDescriptor } from '../../src/gen-support/pack-descriptor.js';

const ROOT = new URL('../../../', import.meta.url);
const FILES = ['mvccpb/kv_pb.ts', 'authpb/auth_pb.ts', 'etcdserverpb/rpc_pb.ts', 'v3lockpb/v3lock_pb.ts', 'v3electionpb/v3election_pb.ts'];
const DEPS: Record<string, string[]> = {
  'etcdserverpb/rpc_pb.ts': ['mvccpb/kv_pb.ts', 'authpb/auth_pb.ts'],
  'v3lockpb/v3lock_pb.ts': ['etcdserverpb/rpc_pb.ts'],
  'v3electionpb/v3election_pb.ts': ['etcdserverpb/rpc_pb.ts', 'mvccpb/kv_pb.ts'],
};

function describeFile(f: DescFile): unknown {
  return {
    name: f.name,
    messages: f.messages.map((m) => ({
      typeName: m.typeName,
      members: m.members.map((x) =>
        x.kind === 'oneof'
          ? { oneof: x.name, fields: x.fields.map((y) => y.name) }
          : { name: x.name, localName: x.localName, number: x.number, jsonName: x.jsonName, kind: x.fieldKind, scalar: (x as { scalar?: unknown }).scalar, oneof: x.oneof?.name, packed: (x as { packed?: boolean }).packed },
      ),
      nested: m.nestedMessages.map((n) => n.typeName),
      enums: m.nestedEnums.map((e) => [e.typeName, e.values.map((v) => [v.name, v.number])]),
    })),
    enums: f.enums.map((e) => [e.typeName, e.values.map((v) => [v.name, v.number])]),
    services: f.services.map((s) => [s.typeName, s.methods.map((m) => [m.name, m.methodKind, m.input.typeName, m.output.typeName])]),
  };
}

test('build-time descriptor JSON hydrates to the same descriptors as fileDesc', () => {
  const viaB64 = new Map<string, DescFile>();
  const viaJson = new Map<string, DescFile>();
  for (const file of FILES) {
    const text = readFileSync(new URL(`src/gen/${file}`, ROOT), 'utf8');
    const b64 = /\bfileDesc\("([A-Za-z0-9+/=]+)"/.exec(text)![1]!;
    const deps = DEPS[file] ?? [];
    viaB64.set(file, fileDesc(b64, deps.map((d) => viaB64.get(d)!)));
    viaJson.set(file, fileDescJson(packDescriptor(b64), deps.map((d) => viaJson.get(d)!)));
    assert.deepEqual(describeFile(viaJson.get(file)!), describeFile(viaB64.get(file)!), file);
  }
  const rpcA = viaB64.get('etcdserverpb/rpc_pb.ts')!.messages.find((m) => m.typeName === 'etcdserverpb.TxnRequest')!;
  const rpcB = viaJson.get('etcdserverpb/rpc_pb.ts')!.messages.find((m) => m.typeName === 'etcdserverpb.TxnRequest')!;
  const init = { compare: [{ key: new Uint8Array([1, 2]), target: 3, targetUnion: { case: 'value' as const, value: new Uint8Array([9]) } }], success: [{ request: { case: 'requestPut' as const, value: { key: new Uint8Array([7]), value: new Uint8Array([8]), lease: 5n } } }] };
  assert.deepEqual(toBinary(rpcB, create(rpcB, init as never)), toBinary(rpcA, create(rpcA, init as never)));
});
