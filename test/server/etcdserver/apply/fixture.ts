// Shared setup for the apply tests: the real WatchableStore, Lessor and
// AuthStore over one MemoryBackend, an AlarmStore and an UberApplier, plus
// request builders.

import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { InternalRaftRequestSchema, type InternalRaftRequest } from '../../../../src/gen/etcdserverpb/raft_internal_pb.js';
import {
  CompareSchema,
  Compare_CompareResult,
  Compare_CompareTarget,
  DeleteRangeRequestSchema,
  PutRequestSchema,
  RangeRequestSchema,
  RequestOpSchema,
  TxnRequestSchema,
  type Compare,
  type RequestOp,
  type TxnRequest,
} from '../../../../src/gen/etcdserverpb/rpc_pb.js';
import { AuthStore } from '../../../../src/server/auth/store.js';
import { SimpleTokenProvider } from '../../../../src/server/auth/token-simple.js';
import { MemoryBackend } from '../../../../src/server/backend/memory-backend.js';
import { AlarmStore } from '../../../../src/server/etcdserver/api/v3alarm/alarms.js';
import type { ApplierDeps, ApplyResult, MembershipApplier } from '../../../../src/server/etcdserver/apply/applier.js';
import { UberApplier } from '../../../../src/server/etcdserver/apply/uber-applier.js';
import { Lessor } from '../../../../src/server/lease/lessor.js';
import { WatchableStore } from '../../../../src/server/mvcc/watchable-store.js';
import { ManualClock } from '../../../../src/util/clock.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
export const b = (s: string): Uint8Array => enc.encode(s);
export const s = (u: Uint8Array): string => dec.decode(u);

export interface Fixture {
  be: MemoryBackend;
  kv: WatchableStore;
  lessor: Lessor;
  as: AuthStore;
  alarms: AlarmStore;
  ua: UberApplier;
  clock: ManualClock;
  noSpaceCalls: number;
  members: { attrs: [bigint, string, string[]][]; versions: string[] };
  /** Applies `fields` as the InternalRaftRequest of the next raft index. */
  apply(fields: MessageInitShape<typeof InternalRaftRequestSchema>): ApplyResult;
  /** Rebuilds the UberApplier (and AlarmStore) on the same backend, as after a restart. */
  rebuild(): void;
}

export function setup(opts: { quotaBytes?: number; be?: MemoryBackend } = {}): Fixture {
  const be = opts.be ?? new MemoryBackend();
  const clock = new ManualClock(1_000_000);
  const lessor = new Lessor({ backend: be, clock, minLeaseTtl: 2 });
  const kv = new WatchableStore(be, { lessor, startLoops: false, compactionSleepMs: 0 });
  lessor.setRangeDeleter(() => kv.write());
  const tp = new SimpleTokenProvider({ clock, ttlMs: 60_000 });
  const as = new AuthStore({ backend: be, tokenProvider: tp, bcryptCost: 4 });
  let index = 0n;
  const members: Fixture['members'] = { attrs: [], versions: [] };
  const membership: MembershipApplier = {
    setMemberAttributes: (id, a) => void members.attrs.push([id, a.name, [...a.clientUrls]]),
    setClusterVersion: (v) => void members.versions.push(v),
  };
  const f: Fixture = {
    be,
    kv,
    lessor,
    as,
    clock,
    alarms: undefined as unknown as AlarmStore,
    ua: undefined as unknown as UberApplier,
    noSpaceCalls: 0,
    members,
    apply(fields) {
      index += 1n;
      return f.ua.apply(create(InternalRaftRequestSchema, fields) as InternalRaftRequest, index);
    },
    rebuild() {
      f.alarms = new AlarmStore(be);
      const deps: ApplierDeps = {
        kv,
        lessor,
        authStore: as,
        backend: be,
        alarmStore: f.alarms,
        quotaBytes: opts.quotaBytes ?? 0,
        memberId: 0x1234n,
        membership,
        onNoSpace: () => void f.noSpaceCalls++,
      };
      f.ua = new UberApplier(deps);
    },
  };
  f.rebuild();
  return f;
}

export const put = (key: string, value: string, more: Partial<MessageInitShape<typeof PutRequestSchema>> = {}) =>
  create(PutRequestSchema, { key: b(key), value: b(value), ...more } as MessageInitShape<typeof PutRequestSchema>);
export const rng = (key: string, more: Partial<MessageInitShape<typeof RangeRequestSchema>> = {}) =>
  create(RangeRequestSchema, { key: b(key), ...more } as MessageInitShape<typeof RangeRequestSchema>);
export const del = (key: string, more: Partial<MessageInitShape<typeof DeleteRangeRequestSchema>> = {}) =>
  create(DeleteRangeRequestSchema, { key: b(key), ...more } as MessageInitShape<typeof DeleteRangeRequestSchema>);

export const opPut = (key: string, value: string, more: Partial<MessageInitShape<typeof PutRequestSchema>> = {}): RequestOp =>
  create(RequestOpSchema, { request: { case: 'requestPut', value: put(key, value, more) } });
export const opRange = (key: string, more: Partial<MessageInitShape<typeof RangeRequestSchema>> = {}): RequestOp =>
  create(RequestOpSchema, { request: { case: 'requestRange', value: rng(key, more) } });
export const opDel = (key: string, more: Partial<MessageInitShape<typeof DeleteRangeRequestSchema>> = {}): RequestOp =>
  create(RequestOpSchema, { request: { case: 'requestDeleteRange', value: del(key, more) } });
export const opTxn = (t: TxnRequest): RequestOp => create(RequestOpSchema, { request: { case: 'requestTxn', value: t } });
export const txn = (compare: Compare[], success: RequestOp[], failure: RequestOp[] = []): TxnRequest =>
  create(TxnRequestSchema, { compare, success, failure });

type Target = 'version' | 'createRevision' | 'modRevision' | 'lease';
/** A compare on an integer target. */
export function cmpInt(key: string, target: Target, result: Compare_CompareResult, v: bigint, rangeEnd?: string): Compare {
  const t = { version: Compare_CompareTarget.VERSION, createRevision: Compare_CompareTarget.CREATE, modRevision: Compare_CompareTarget.MOD, lease: Compare_CompareTarget.LEASE }[target];
  return create(CompareSchema, { key: b(key), target: t, result, targetUnion: { case: target, value: v }, rangeEnd: rangeEnd === undefined ? new Uint8Array(0) : b(rangeEnd) });
}
/** A compare on the value. */
export function cmpValue(key: string, result: Compare_CompareResult, v: string, rangeEnd?: string): Compare {
  return create(CompareSchema, { key: b(key), target: Compare_CompareTarget.VALUE, result, targetUnion: { case: 'value', value: b(v) }, rangeEnd: rangeEnd === undefined ? new Uint8Array(0) : b(rangeEnd) });
}
