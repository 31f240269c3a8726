// The CLI bundle's descriptors are lazyDesc proxies (src/gen-support/lazy-desc.ts): built
// on first use, and indistinguishable from the real descriptors to protobuf-es.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { create, createRegistry, equals, fromBinary, fromJson, isMessage, toBinary, toJson, type DescFile, type DescMessage, type DescService } from '@bufbuild/protobuf';
import { messageDesc, serviceDesc } from '@bufbuild/protobuf/codegenv2';
import { file_etcdserverpb_rpc, RangeResponseSchema, TxnRequestSchema } from '../../src/gen/etcdserverpb/rpc_pb.js';
import { file_mvccpb_kv } from '../../src/gen/mvccpb/kv_pb.js';
import { file_authpb_auth } from '../../src/gen/authpb/auth_pb.js';
import { isUnbuiltLazy, lazyDesc, unwrapLazy } from '../../src/gen-support/lazy-desc.js';
import { fileDescJson } from '../../src/gen-support/file-desc-json.js';
import { packDescriptor } from '../../src/gen-support/pack-descriptor.js';

const ROOT = new URL('../../../', import.meta.url);

test('a lazy descriptor is built on first use, once', () => {
  let builds = 0;
  const file = lazyDesc(() => {
    builds++;
    return file_etcdserverpb_rpc;
  });
  const range = lazyDesc(() => messageDesc(file, 1) as DescMessage);
  assert.equal(builds, 0);
  assert.ok(isUnbuiltLazy(file) && isUnbuiltLazy(range));
  assert.equal(range.typeName, 'etcdserverpb.RangeRequest');
  assert.equal(builds, 1);
  assert.ok(!isUnbuiltLazy(file) && !isUnbuiltLazy(range));
  assert.equal(file.messages.length, file_etcdserverpb_rpc.messages.length);
  assert.equal(builds, 1);
  assert.equal(unwrapLazy(file), file_etcdserverpb_rpc);
  assert.equal(unwrapLazy(42), 42);
  assert.ok(!isUnbuiltLazy(file_etcdserverpb_rpc));
});

test('protobuf-es treats a lazy descriptor as the real one', () => {
  const lazyRangeResp = lazyDesc(() => RangeResponseSchema);
  const lazyTxn = lazyDesc(() => TxnRequestSchema);
  const init = { header: { revision: 7n }, kvs: [{ key: Uint8Array.of(1), value: Uint8Array.of(2), modRevision: 3n }], count: 1n };
  const viaLazy = create(lazyRangeResp, init);
  const viaReal = create(RangeResponseSchema, init);
  assert.deepStrictEqual(viaLazy, viaReal);
  const wire = toBinary(lazyRangeResp, viaReal);
  assert.deepEqual(Buffer.from(wire), Buffer.from(toBinary(RangeResponseSchema, viaReal)));
  assert.deepStrictEqual(fromBinary(lazyRangeResp, wire), fromBinary(RangeResponseSchema, wire));
  assert.ok(isMessage(viaReal, lazyRangeResp) && equals(lazyRangeResp, viaLazy, viaReal));
  assert.deepEqual(toJson(lazyRangeResp, viaReal), toJson(RangeResponseSchema, viaReal));
  // oneofs and nested messages (TxnRequest's RequestOp)
  const txn = { compare: [{ key: Uint8Array.of(1), target: 1, targetUnion: { case: 'version' as const, value: 2n } }], success: [{ request: { case: 'requestPut' as const, value: { key: Uint8Array.of(1) } } }] };
  assert.deepEqual(Buffer.from(toBinary(lazyTxn, create(lazyTxn, txn))), Buffer.from(toBinary(TxnRequestSchema, create(TxnRequestSchema, txn))));
  assert.deepStrictEqual(fromJson(lazyTxn, toJson(TxnRequestSchema, create(TxnRequestSchema, txn))), create(TxnRequestSchema, txn));
  // reflection of the object itself
  assert.deepEqual(Object.keys(lazyTxn), Object.keys(TxnRequestSchema));
  assert.ok('fields' in lazyTxn && !('nope' in lazyTxn));
  assert.equal(Object.getPrototypeOf(lazyTxn), Object.getPrototypeOf(TxnRequestSchema));
  assert.deepEqual({ ...lazyTxn }, { ...TxnRequestSchema });
  // a registry made of lazy descriptors finds the real types
  const reg = createRegistry(lazyRangeResp, lazyTxn);
  assert.equal(reg.getMessage('etcdserverpb.TxnRequest')?.typeName, 'etcdserverpb.TxnRequest');
  // services: methods lead to the real input and output descriptors
  const kv = lazyDesc(() => serviceDesc(file_etcdserverpb_rpc, 0) as DescService);
  assert.equal(kv.method.range!.input.typeName, 'etcdserverpb.RangeRequest');
});

test('a build that fails throws at every use, and is not retried', () => {
  let builds = 0;
  const broken = lazyDesc<DescFile>(() => {
    builds++;
    throw new Error('no descriptor');
  });
  assert.throws(() => broken.messages, /no descriptor/);
  assert.throws(() => Object.keys(broken), /no descriptor/);
  assert.throws(() => unwrapLazy(broken), /no descriptor/);
  assert.equal(builds, 1);
});

test('fileDescJson builds a file that imports lazy files (as in the CLI bundle) as one that imports real files', () => {
  const text = readFileSync(new URL('src/gen/etcdserverpb/rpc_pb.ts', ROOT), 'utf8');
  const packed = packDescriptor(/\bfileDesc\("([A-Za-z0-9+/=]+)"/.exec(text)![1]!);
  const viaLazy = fileDescJson(packed, [lazyDesc(() => file_mvccpb_kv), lazyDesc(() => file_authpb_auth)]);
  const viaReal = fileDescJson(packed, [file_mvccpb_kv, file_authpb_auth]);
  const kvsType = (f: DescFile) => f.messages.find((m) => m.typeName === 'etcdserverpb.RangeResponse')!.fields.find((x) => x.name === 'kvs')!.message;
  assert.equal(kvsType(viaLazy), kvsType(viaReal));
  assert.equal(kvsType(viaLazy), file_mvccpb_kv.messages[0]);
  assert.deepEqual(viaLazy.dependencies.map((d) => d.name), ['mvccpb/kv', 'authpb/auth']);
  assert.equal(viaLazy.dependencies[0], file_mvccpb_kv);
});
