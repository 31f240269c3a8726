// Deeply nested txns, sent with a raw gRPC client (the bytes are built by hand, inside
// out, so that the client itself has no recursion limit), on the real etcd 3.4.23 and
// on ours. etcd checks a txn before proposing it (v3rpc/key.go checkTxnRequest): a
// level with more compares/success/failure ops than its budget fails with
// InvalidArgument "etcdserver: too many operations in txn request", and a nested txn's
// budget is its parent's budget minus the parent's largest op count. A chain of
// single-op levels is therefore accepted up to --max-txn-ops + 1 levels (the deepest
// level being empty) and refused beyond, whatever the depth (the gRPC message limit
// allows hundreds of thousands of levels). The other checks keep their depth-first
// order: an empty key met before the deep branch is reported instead.
//
// Every case compares our gRPC status code and message with the real etcd's. Accepted
// deep txns are then read back, and the member is killed (kill -9) and restarted: the
// WAL replay decodes the deep entries again and must get the same store.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { create, toBinary } from '@bufbuild/protobuf';
import { PutRequestSchema, RangeRequestSchema, RangeResponseSchema, CompareSchema, Compare_CompareResult, Compare_CompareTarget } from '../../../src/gen/etcdserverpb/rpc_pb.js';
import { fromBinary, equals } from '@bufbuild/protobuf';
import { TxnRequestSchema } from '../../../src/gen/etcdserverpb/rpc_pb.js';
import { checkTxnRequest } from '../../../src/server/etcdserver/api/v3rpc/key.js';
import { decodeTxnRequest, isPrunedTxn, MAX_TXN_NESTING_LEVELS } from '../../../src/server/etcdserver/api/v3rpc/txn-codec.js';
import { serverTargets, ServerUnderTest, type ServerTarget } from '../../harness/server-under-test.js';

// ---------------------------------------------------------------- wire helpers

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

/** A length-delimited field: tag (field << 3 | 2), length, bytes. */
const ld = (field: number, body: Buffer): Buffer => Buffer.concat([varint((field << 3) | 2), varint(body.length), body]);

/** RequestOp fields (rpc.proto): request_range 1, request_put 2, request_delete_range 3, request_txn 4. */
const opPut = (key: string, value = 'v') =>
  ld(2, Buffer.from(toBinary(PutRequestSchema, create(PutRequestSchema, { key: Buffer.from(key), value: Buffer.from(value) }))));
const opTxn = (txn: Buffer) => ld(4, txn);
const opRange = (key: string) => ld(1, Buffer.from(toBinary(RangeRequestSchema, create(RangeRequestSchema, { key: Buffer.from(key) }))));

/** TxnRequest fields: compare 1, success 2, failure 3 (each a list of encoded messages). */
function txn(parts: { compare?: Buffer[]; success?: Buffer[]; failure?: Buffer[] }): Buffer {
  return Buffer.concat([...(parts.compare ?? []).map((c) => ld(1, c)), ...(parts.success ?? []).map((o) => ld(2, o)), ...(parts.failure ?? []).map((o) => ld(3, o))]);
}

const compareVersion = (key: string) =>
  Buffer.from(toBinary(CompareSchema, create(CompareSchema, { key: Buffer.from(key), result: Compare_CompareResult.EQUAL, target: Compare_CompareTarget.VERSION, targetUnion: { case: 'version', value: 0n } })));

/**
 * `levels` nested TxnRequests, each with one success op holding the next; the innermost
 * puts `key`. Built inside out: only the headers (tag + length) of the outer levels are
 * computed, then everything is concatenated once (linear in the size, no recursion).
 */
function chain(levels: number, key: string): Buffer {
  const inner = txn({ success: [opPut(key)] });
  const headers: Buffer[] = [];
  let size = inner.length;
  for (let i = 1; i < levels; i++) {
    const op = Buffer.concat([varint((4 << 3) | 2), varint(size)]); // RequestOp.request_txn
    size += op.length;
    const t = Buffer.concat([varint((2 << 3) | 2), varint(size)]); // TxnRequest.success
    size += t.length;
    headers.push(op, t);
  }
  return Buffer.concat([...headers.reverse(), inner]);
}

// ---------------------------------------------------------------- raw calls

interface Outcome {
  code: number;
  details: string;
}

function unary(endpoint: string, method: string, req: Buffer): Promise<{ outcome: Outcome; resp?: Buffer }> {
  const client = new grpc.Client(endpoint, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 64 << 20, 'grpc.max_receive_message_length': 64 << 20 });
  return new Promise((resolve) => {
    client.makeUnaryRequest(method, (b: Buffer) => b, (b: Buffer) => b, req, { deadline: Date.now() + 30_000 }, (err, resp) => {
      client.close();
      if (err) resolve({ outcome: { code: err.code ?? -1, details: err.details ?? String(err.message) } });
      else resolve({ outcome: { code: 0, details: '' }, resp: resp as Buffer });
    });
  });
}

const sendTxn = (sut: ServerUnderTest, body: Buffer) => unary(sut.endpoint, '/etcdserverpb.KV/Txn', body);

async function keys(sut: ServerUnderTest, prefix: string): Promise<string[]> {
  const end = Buffer.from(prefix);
  end[end.length - 1]!++;
  const r = await unary(sut.endpoint, '/etcdserverpb.KV/Range', Buffer.from(toBinary(RangeRequestSchema, create(RangeRequestSchema, { key: Buffer.from(prefix), rangeEnd: end, keysOnly: true }))));
  assert.equal(r.outcome.code, 0, r.outcome.details);
  return fromBinary(RangeResponseSchema, r.resp!).kvs.map((kv) => Buffer.from(kv.key).toString());
}

// ---------------------------------------------------------------- cases

/** --max-txn-ops 128 (etcd's default): a single-op chain is accepted up to 129 levels. */
const CASES: { name: string; body: () => Buffer; accepted?: string }[] = [
  { name: 'depth 1', body: () => chain(1, 'n/1'), accepted: 'n/1' },
  { name: 'depth 50', body: () => chain(50, 'n/50'), accepted: 'n/50' },
  { name: 'depth 101', body: () => chain(101, 'n/101'), accepted: 'n/101' },
  // 128 single-op levels use the whole budget; a 129th level must be empty
  { name: 'depth 128', body: () => chain(128, 'n/128'), accepted: 'n/128' },
  { name: 'depth 129 (innermost op over the budget)', body: () => chain(129, 'n/129') },
  {
    // 128 single-op levels, then an empty txn at level 128 (budget 0, op count 0): accepted
    name: 'depth 129 with an empty innermost txn',
    body: () => {
      let t = txn({});
      for (let i = 1; i < 129; i++) t = txn({ success: [opTxn(t)] });
      return t;
    },
  },
  {
    // the same with a put at the top: the top level has 2 ops, so one level too many
    name: 'depth 129 with an empty innermost txn and a put at the top',
    body: () => {
      let t = txn({});
      for (let i = 1; i < 128; i++) t = txn({ success: [opTxn(t)] });
      return txn({ success: [opTxn(t), opPut('n/empty-inner')] });
    },
  },
  { name: 'depth 130', body: () => chain(130, 'n/130') },
  { name: 'depth 200', body: () => chain(200, 'n/200') },
  { name: 'depth 10000', body: () => chain(10_000, 'n/10000') },
  { name: 'depth 100000', body: () => chain(100_000, 'n/100000') },
  // depth-first order of the checks: what comes before the deep branch is reported first
  { name: 'empty compare key at the top, deep success branch', body: () => txn({ compare: [Buffer.alloc(0)], success: [opTxn(chain(10_000, 'n/x'))] }) },
  { name: 'empty put key before the deep branch', body: () => txn({ success: [opPut(''), opTxn(chain(10_000, 'n/x'))] }) },
  { name: 'empty put key after the deep branch', body: () => txn({ success: [opTxn(chain(10_000, 'n/x')), opPut('')] }) },
  { name: 'deep failure branch, empty op in success', body: () => txn({ success: [opRange('n/a'), Buffer.alloc(0)], failure: [opTxn(chain(10_000, 'n/x'))] }) },
  { name: 'empty key 60 levels down, deep branch after it', body: () => txn({ success: [opTxn(chain(60, '')), opTxn(chain(10_000, 'n/x'))] }) },
  { name: 'too many ops at the top level', body: () => txn({ success: Array.from({ length: 129 }, (_, i) => opPut(`n/top${i}`)) }) },
  { name: 'a put twice in nested branches (checkIntervals)', body: () => txn({ success: [opTxn(chain(60, 'n/dup')), opPut('n/dup')] }) },
  { name: 'compare + nested then/else at depth 100', body: () => {
    let t = txn({ compare: [compareVersion('n/none')], success: [opPut('n/then')], failure: [opPut('n/else')] });
    for (let i = 1; i < 100; i++) t = txn({ success: [opTxn(t)] });
    return t;
  }, accepted: 'n/then' },
];

async function runAll(target: ServerTarget): Promise<{ outcomes: Outcome[]; stored: string[] }> {
  const sut = await ServerUnderTest.start(target);
  try {
    const outcomes: Outcome[] = [];
    for (const c of CASES) {
      const t0 = Date.now();
      outcomes.push((await sendTxn(sut, c.body())).outcome);
      process.stdout.write(`# ${target.name} ${c.name}: ${JSON.stringify(outcomes[outcomes.length - 1])} (${Date.now() - t0} ms)\n`);
    }
    const stored = await keys(sut, 'n/');
    // the WAL replay decodes the accepted deep entries again
    await sut.kill9();
    await sut.restart();
    assert.deepEqual(await keys(sut, 'n/'), stored, `${target.name}: keys after kill -9 and restart`);
    // and the member still takes writes
    const again = await sendTxn(sut, chain(128, 'n/after-restart'));
    assert.deepEqual(again.outcome, { code: 0, details: '' }, `${target.name}: depth 128 after the restart`);
    return { outcomes, stored };
  } finally {
    await sut.stop();
  }
}

describe('nested txns (raw gRPC, --max-txn-ops 128)', () => {
  test('status of every case equals real etcd; accepted ones are stored and survive a restart', { timeout: 300_000 }, async () => {
    const results = new Map<string, { outcomes: Outcome[]; stored: string[] }>();
    for (const t of serverTargets()) results.set(t.name, await runAll(t));
    const real = results.get('real')!;
    // golden expectations, from the real etcd (so that the comparison cannot pass vacuously)
    const TOO_MANY = { code: grpc.status.INVALID_ARGUMENT, details: 'etcdserver: too many operations in txn request' };
    const byName = (n: string) => real.outcomes[CASES.findIndex((c) => c.name === n)]!;
    assert.deepEqual(byName('depth 128'), { code: 0, details: '' });
    assert.deepEqual(byName('depth 129 (innermost op over the budget)'), TOO_MANY);
    assert.deepEqual(byName('depth 10000'), TOO_MANY);
    assert.deepEqual(byName('empty put key before the deep branch'), { code: grpc.status.INVALID_ARGUMENT, details: 'etcdserver: key is not provided' });
    assert.deepEqual(real.stored, CASES.filter((c) => c.accepted).map((c) => c.accepted!).sort());
    const ours = results.get('ours');
    if (!ours) return;
    for (let i = 0; i < CASES.length; i++) {
      assert.deepEqual(ours.outcomes[i], real.outcomes[i], `case "${CASES[i]!.name}" (actual = ours, expected = real)`);
    }
    assert.deepEqual(ours.stored, real.stored);
  });
});

describe('nested txns with a raised --max-txn-ops (1000)', () => {
  test(`up to ${MAX_TXN_NESTING_LEVELS} levels as etcd; deeper ones refused by ours (documented bound), the member keeps working`, { timeout: 300_000 }, async () => {
    const depths = [200, MAX_TXN_NESTING_LEVELS, MAX_TXN_NESTING_LEVELS + 1, 600];
    const results = new Map<string, Outcome[]>();
    for (const target of serverTargets()) {
      const sut = await ServerUnderTest.start(target, { extraArgs: ['--max-txn-ops=1000'] });
      try {
        const out: Outcome[] = [];
        for (const d of depths) out.push((await sendTxn(sut, chain(d, `r/${d}`))).outcome);
        results.set(target.name, out);
        await sut.kill9();
        await sut.restart();
        const stored = await keys(sut, 'r/');
        assert.deepEqual(stored, depths.filter((_, i) => out[i]!.code === 0).map((d) => `r/${d}`).sort(), `${target.name}: after restart`);
      } finally {
        await sut.stop();
      }
    }
    const ok = { code: 0, details: '' };
    assert.deepEqual(results.get('real'), depths.map(() => ok), 'etcd accepts all of them with --max-txn-ops 1000');
    const ours = results.get('ours');
    if (!ours) return;
    const TOO_MANY = { code: grpc.status.INVALID_ARGUMENT, details: 'etcdserver: too many operations in txn request' };
    assert.deepEqual(ours, depths.map((d) => (d <= MAX_TXN_NESTING_LEVELS ? ok : TOO_MANY)));
  });
});

describe('decodeTxnRequest (txn-codec.ts)', () => {
  test('same message as the generated decoder, with unknown fields and a oneof set twice', () => {
    const unknownVarint = Buffer.from([0x28, 0x05]); // field 5, varint
    const unknownBytes = ld(9, Buffer.from('zz'));
    const twice = Buffer.concat([opPut('a'), ld(1, Buffer.from(toBinary(RangeRequestSchema, create(RangeRequestSchema, { key: Buffer.from('b') }))))]); // put, then range: range wins
    const inner = txn({ compare: [compareVersion('c')], success: [opPut('d'), twice], failure: [Buffer.concat([opRange('e'), unknownVarint])] });
    const body = Buffer.concat([txn({ compare: [compareVersion('x')], success: [opTxn(inner), opRange('f')], failure: [opTxn(chain(40, 'g'))] }), unknownBytes]);
    const ours = decodeTxnRequest(body, 128);
    const generated = fromBinary(TxnRequestSchema, body, { recursionLimit: 1000 });
    assert.ok(equals(TxnRequestSchema, ours, generated));
    assert.equal(ours.success[0]!.request.case, 'requestTxn');
  });

  test('malformed bytes get the generated decoder\'s error', () => {
    const truncated = chain(3, 'k').subarray(0, 10);
    assert.throws(() => decodeTxnRequest(truncated, 128), /premature EOF|invalid|cannot decode/i);
  });

  test('txns past --max-txn-ops + 1 levels are pruned and refused, without recursion', () => {
    const t = decodeTxnRequest(chain(300_000, 'k'), 128);
    let x = t;
    let levels = 1;
    while (x.success[0]?.request.case === 'requestTxn') {
      x = x.success[0].request.value;
      levels++;
    }
    assert.equal(levels, 130, 'levels 0..128 decoded, level 129 an empty stand-in');
    assert.ok(isPrunedTxn(x));
    assert.throws(() => checkTxnRequest(t, 128), (e: unknown) => (e as Error).message === 'etcdserver: too many operations in txn request');
    // a chain etcd accepts is decoded whole and passes
    const ok = decodeTxnRequest(chain(128, 'k'), 128);
    checkTxnRequest(ok, 128);
  });
});
