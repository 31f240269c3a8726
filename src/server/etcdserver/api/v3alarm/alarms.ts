/**
 * @module server/etcdserver/api/v3alarm/alarms
 * The alarm store (etcd etcdserver/api/v3alarm/alarms.go): which members have
 * raised which alarms (NOSPACE, CORRUPT), kept in memory and persisted in the
 * backend bucket `alarm`.
 *
 * Storage as etcd: one entry per alarm, the key is the marshalled
 * `etcdserverpb.AlarmMember{memberID, alarm}` and the value is empty. A store
 * opened on a backend reloads every stored alarm (etcd `restore`), so an alarm
 * survives restarts and travels in snapshots.
 *
 * There is one alarm per (type, member): activating it again returns the
 * existing one and writes nothing. Member ID 0 is not special here: a request
 * with memberID 0 activates/deactivates the entry of "member 0", as in etcd
 * (clients use 0 only in GET, which ignores the member ID).
 */

import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { AlarmMemberSchema, AlarmType, type AlarmMember } from '../../../../gen/etcdserverpb/rpc_pb.js';
import { Buckets, type Backend } from '../../../backend/backend.js';

/** The alarm store (etcd `AlarmStore`). */
export class AlarmStore {
  /** alarm type → member ID → alarm. */
  private readonly types = new Map<AlarmType, Map<bigint, AlarmMember>>();

  /**
   * Opens the store on `backend`: creates the `alarm` bucket if needed, loads
   * the stored alarms and force-commits (etcd `NewAlarmStore`). Throws if a
   * stored key is not a valid AlarmMember (etcd returns the unmarshal error).
   */
  constructor(private readonly backend: Backend) {
    this.restore();
  }

  /**
   * Raises alarm `at` for member `id` and persists it. Returns the new alarm,
   * or the one already raised for that member and type (nothing is written then).
   */
  activate(id: bigint, at: AlarmType): AlarmMember {
    const m = create(AlarmMemberSchema, { memberID: id, alarm: at });
    const existing = this.addToMap(m);
    if (existing !== m) return existing;
    const tx = this.backend.batchTx();
    tx.lock();
    try {
      tx.put(Buckets.alarm, toBinary(AlarmMemberSchema, m), new Uint8Array(0));
    } finally {
      tx.unlock();
    }
    return m;
  }

  /** Clears alarm `at` of member `id` and deletes it from the backend; undefined if it was not raised. */
  deactivate(id: bigint, at: AlarmType): AlarmMember | undefined {
    const t = this.types.get(at);
    const m = t?.get(id);
    if (!t || !m) return undefined;
    t.delete(id);
    const tx = this.backend.batchTx();
    tx.lock();
    try {
      tx.delete(Buckets.alarm, toBinary(AlarmMemberSchema, m));
    } finally {
      tx.unlock();
    }
    return m;
  }

  /**
   * The raised alarms of type `at`, or of every type for `AlarmType.NONE`.
   * Ordered by type, then member ID (etcd iterates a Go map: unordered).
   */
  get(at: AlarmType): AlarmMember[] {
    const out: AlarmMember[] = [];
    const types = at === AlarmType.NONE ? [...this.types.keys()].sort((a, b) => a - b) : [at];
    for (const t of types) {
      const set = this.types.get(t);
      if (!set) continue;
      const ids = [...set.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      for (const id of ids) out.push(set.get(id)!);
    }
    return out;
  }

  /**
   * (Re)loads the alarms from the backend, dropping what was in memory (etcd
   * NewAlarmStore; also after a raft snapshot replaced the backend).
   */
  restore(): void {
    this.types.clear();
    const tx = this.backend.batchTx();
    tx.lock();
    try {
      tx.createBucket(Buckets.alarm);
      const keys: Uint8Array[] = [];
      tx.forEach(Buckets.alarm, (k) => void keys.push(k.slice()));
      for (const k of keys) this.addToMap(fromBinary(AlarmMemberSchema, k));
    } finally {
      tx.unlock();
    }
    this.backend.forceCommit();
  }

  /** Adds `m` unless its (type, member) is taken; returns the alarm now in the map. */
  private addToMap(m: AlarmMember): AlarmMember {
    let t = this.types.get(m.alarm);
    if (!t) {
      t = new Map();
      this.types.set(m.alarm, t);
    }
    const existing = t.get(m.memberID);
    if (existing) return existing;
    t.set(m.memberID, m);
    return m;
  }
}
