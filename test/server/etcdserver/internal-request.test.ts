// The hand-written InternalRaftRequest encoder gives bytes that protobuf-es decodes to the
// same request, and readRequestId finds the header ID without decoding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create, equals, fromBinary, toBinary } from '@bufbuild/protobuf';
import { InternalRaftRequestSchema } from '../../../src/gen/etcdserverpb/raft_internal_pb.js';
import { PutRequestSchema, TxnRequestSchema } from '../../../src/gen/etcdserverpb/rpc_pb.js';
import { encodeInternalRequest, readRequestId, type InternalRequestField } from '../../../src/server/etcdserver/internal-request.js';

const enc = new TextEncoder();

test('encoded requests decode to the same InternalRaftRequest', () => {
  const cases: Array<[string, object, { ID: bigint; username: string; authRevision: bigint }]> = [
    ['put', create(PutRequestSchema, { key: enc.encode('k'), value: new Uint8Array(300).fill(7), lease: 0x1234n, prevKv: true }), { ID: 0xabcdef0123456789n, username: '', authRevision: 0n }],
    ['put', create(PutRequestSchema, { key: enc.encode('') }), { ID: 1n, username: 'ü-user', authRevision: 1n << 62n }],
    ['txn', create(TxnRequestSchema, { success: [{ request: { case: 'requestPut', value: { key: enc.encode('a') } } }] }), { ID: 42n, username: 'root', authRevision: 3n }],
    ['leaseRevoke', { ID: 99n }, { ID: (1n << 64n) - 1n, username: '', authRevision: 0n }],
    ['authEnable', {}, { ID: 7n, username: '', authRevision: 0n }],
  ];
  for (const [field, req, header] of cases) {
    const { data, request } = encodeInternalRequest(header, field as InternalRequestField, req as never);
    const decoded = fromBinary(InternalRaftRequestSchema, data);
    const expected = create(InternalRaftRequestSchema, { header, [field]: req });
    assert.ok(equals(InternalRaftRequestSchema, decoded, expected), field);
    assert.ok(equals(InternalRaftRequestSchema, create(InternalRaftRequestSchema, request), expected), `${field}: in-memory object`);
    assert.equal(readRequestId(data), header.ID);
    // protobuf-es's own encoding (fields in declaration order) is read too
    assert.equal(readRequestId(toBinary(InternalRaftRequestSchema, expected)), header.ID);
  }
  assert.throws(() => encodeInternalRequest({ ID: 1n, username: '', authRevision: 0n }, 'nope' as InternalRequestField, {} as never), /no request field nope/);
});

test('readRequestId is 0 for entries without a header or malformed bytes', () => {
  assert.equal(readRequestId(toBinary(InternalRaftRequestSchema, create(InternalRaftRequestSchema, { ID: 5n, put: { key: enc.encode('x') } }))), 0n);
  assert.equal(readRequestId(Uint8Array.of(0xa2, 0x06, 0x7f)), 0n);
  assert.equal(readRequestId(Uint8Array.of(0xff)), 0n);
  assert.equal(readRequestId(new Uint8Array(0)), 0n);
});
