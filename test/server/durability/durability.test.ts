// Durability under kill -9: every acknowledged write survives a crash of the server.
//
// For each target (serverTargets(): the real etcd 3.4.23 always, ours as soon as
// dist/src/server/etcdmain/main.js exists, run as bin/etcd or $OUR_ETCD_BIN; see
// test/harness/server-under-test.ts), one member is started and then, CYCLES times:
//
//   1. WRITERS clients put keys continuously, one request in flight each. Most puts
//      create a new key ("dur/w<writer>/<n>"), some overwrite one of the writer's own
//      earlier keys. Each writer records every acknowledged put (key, value, the
//      revision of the response header) and every put whose outcome is unknown (the
//      call failed: it may or may not have been applied).
//   2. After a random delay the server gets SIGKILL (kill -9), mid-load.
//   3. It is restarted on the same data dir and ports, and the whole key space is read
//      back with a linearizable Range. It must hold:
//        - every acknowledged key, with the acknowledged value and mod_revision equal to
//          the acknowledged revision, unless a later put of the same key whose outcome
//          is unknown was applied (then that value, with a higher mod_revision);
//        - no key or value that was never put (no phantom or corrupted data);
//        - header.revision >= the highest acknowledged revision;
//      and no two acknowledged puts may have the same revision.
//
// Only our server's correctness is asserted here; real etcd is the control that shows
// the test itself is sound (it must pass there). To run only one target:
//   node --test dist/test/server/durability/            (real, plus ours when built)
//   ETCDTS_DURABILITY_TARGETS=ours node --test dist/test/server/durability/
// Knobs: ETCDTS_SEED (the random seed; printed), ETCDTS_DURABILITY_CYCLES (default 4).
// etcd's promise: a response is sent only after the entry is in the WAL and fsynced
// (etcdserver/raft.go: "the leader can write to its disk in parallel with replicating",
// then wal.Save with sync; a single member commits only what it has saved).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EtcdClient } from '../../../src/client/client.js';
import { prefixEnd } from '../../../src/client/range.js';
import { serverTargets, ServerUnderTest, type ServerTarget } from '../../harness/server-under-test.js';

const CYCLES = Number(process.env.ETCDTS_DURABILITY_CYCLES ?? 4);
const WRITERS = 8;
/** The server is killed this long after the load started, ms (uniformly random). */
const KILL_AFTER_MS: [number, number] = [200, 1500];
/** Fraction of puts that overwrite one of the writer's earlier keys. */
const OVERWRITE_P = 0.25;
/** Together the cycles must acknowledge at least this many puts, or the test proves little. */
const MIN_ACKED = 200;
const PREFIX = 'dur/';

const SEED = process.env.ETCDTS_SEED ? Number(process.env.ETCDTS_SEED) : Math.floor(Math.random() * 2 ** 31);

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the writers know about one key. */
interface KeyState {
  /** The last acknowledged put (or the state observed after a restart). */
  acked?: { value: string; revision: bigint };
  /** Values put after `acked` whose outcome is unknown (the call failed). */
  pending: Set<string>;
  /** Every value ever sent for this key. */
  sent: Set<string>;
}

function selectedTargets(): ServerTarget[] {
  const want = process.env.ETCDTS_DURABILITY_TARGETS?.split(',').filter(Boolean);
  const all = serverTargets();
  if (!want) return all;
  for (const w of want) {
    if (w !== 'real' && w !== 'ours') throw new Error(`ETCDTS_DURABILITY_TARGETS: unknown target ${JSON.stringify(w)} (real, ours)`);
    if (!all.some((t) => t.name === w)) throw new Error(`ETCDTS_DURABILITY_TARGETS: ${w} is not built (dist/src/server/etcdmain/main.js missing)`);
  }
  return all.filter((t) => want.includes(t.name));
}

const connect = (endpoint: string) =>
  EtcdClient.connect({ endpoints: [endpoint], dialTimeoutMs: 5000, commandTimeoutMs: 5000, keepaliveTimeMs: 10_000, keepaliveTimeoutMs: 6000 });

for (const target of selectedTargets()) {
  test(`acknowledged puts survive kill -9 (${target.name}, ${CYCLES} crashes, seed ${SEED})`, { timeout: 120_000 }, async () => {
    const rand = rng(SEED);
    const keys = new Map<string, KeyState>();
    const ackedRevisions = new Map<bigint, string>(); // revision -> key, across all cycles
    let maxAcked = 0n;
    let totalAcked = 0;
    const history: string[] = [];
    const sut = await ServerUnderTest.start(target);
    try {
      const started = Date.now();
      for (let cycle = 1; cycle <= CYCLES; cycle++) {
        const client = await connect(sut.endpoint);
        let stop = false;
        let cycleAcked = 0;
        let cycleFailed = 0;
        const writer = async (w: number): Promise<void> => {
          const own: string[] = [...keys.keys()].filter((k) => k.startsWith(`${PREFIX}w${w}/`));
          let n = own.length;
          while (!stop) {
            const overwrite = own.length > 0 && rand() < OVERWRITE_P;
            const key = overwrite ? own[Math.floor(rand() * own.length)]! : `${PREFIX}w${w}/${String(n++).padStart(6, '0')}`;
            if (!overwrite) own.push(key);
            let st = keys.get(key);
            if (!st) keys.set(key, (st = { pending: new Set(), sent: new Set() }));
            const value = `${key}#${cycle}.${st.sent.size}:${'x'.repeat(Math.floor(rand() * 200))}`;
            st.sent.add(value);
            st.pending.add(value);
            try {
              const resp = await client.put({ key: Buffer.from(key), value: Buffer.from(value) });
              const revision = resp.header!.revision;
              const other = ackedRevisions.get(revision);
              assert.equal(other, undefined, `two acknowledged puts got revision ${revision}: ${other} and ${key}`);
              ackedRevisions.set(revision, key);
              st.acked = { value, revision };
              st.pending.clear();
              if (revision > maxAcked) maxAcked = revision;
              cycleAcked++;
            } catch (e) {
              if (e instanceof assert.AssertionError) throw e;
              cycleFailed++; // outcome unknown; stays in `pending`
              return; // the server is gone (or failing): this writer is done for the cycle
            }
          }
        };
        const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
        const killAfter = KILL_AFTER_MS[0] + Math.floor(rand() * (KILL_AFTER_MS[1] - KILL_AFTER_MS[0]));
        await new Promise((r) => setTimeout(r, killAfter));
        await sut.kill9();
        stop = true;
        await Promise.all(writers);
        client.close();
        totalAcked += cycleAcked;
        history.push(`cycle ${cycle}: killed after ${killAfter} ms, ${cycleAcked} acked, ${cycleFailed} in flight at the kill`);

        await sut.restart();
        const reader = await connect(sut.endpoint);
        try {
          const resp = await reader.range({ key: Buffer.from(PREFIX), rangeEnd: prefixEnd(Buffer.from(PREFIX)) }, { timeoutMs: 20_000 });
          const ctx = `${target.name}, seed ${SEED}, ${history.join('; ')}`;
          assert.ok(resp.header!.revision >= maxAcked,
            `store revision ${resp.header!.revision} < highest acknowledged revision ${maxAcked} (${ctx})`);
          const seen = new Map<string, { value: string; modRevision: bigint }>();
          for (const kv of resp.kvs) {
            seen.set(Buffer.from(kv.key).toString('utf8'), { value: Buffer.from(kv.value).toString('utf8'), modRevision: kv.modRevision });
          }
          const problems: string[] = [];
          for (const [key, got] of seen) {
            const st = keys.get(key);
            if (!st) problems.push(`phantom key ${key}`);
            else if (!st.sent.has(got.value)) problems.push(`${key}: value ${JSON.stringify(got.value.slice(0, 40))} was never put`);
          }
          for (const [key, st] of keys) {
            const got = seen.get(key);
            if (st.acked) {
              if (!got) {
                problems.push(`${key}: acknowledged at revision ${st.acked.revision}, missing after restart`);
              } else if (got.value === st.acked.value) {
                if (got.modRevision !== st.acked.revision) {
                  problems.push(`${key}: mod_revision ${got.modRevision}, acknowledged revision ${st.acked.revision}`);
                }
              } else if (!st.pending.has(got.value)) {
                problems.push(`${key}: value ${JSON.stringify(got.value.slice(0, 40))} is older than the acknowledged ${JSON.stringify(st.acked.value.slice(0, 40))}`);
              } else if (got.modRevision <= st.acked.revision) {
                problems.push(`${key}: later (unacknowledged) value has mod_revision ${got.modRevision} <= acknowledged ${st.acked.revision}`);
              }
            } else if (got && !st.pending.has(got.value)) {
              problems.push(`${key}: never acknowledged, holds unexpected value`);
            }
          }
          assert.deepEqual(problems.slice(0, 20), [], `after crash ${cycle}: ${problems.length} problems (${ctx})\n--- server log (tail) ---\n${sut.log().slice(-4000)}`);
          // What the restarted server holds is now the known state: an unknown put that
          // was applied counts as written, one that was not is gone for good.
          for (const [key, st] of keys) {
            const got = seen.get(key);
            if (got && st.pending.has(got.value)) {
              st.acked = { value: got.value, revision: got.modRevision };
              if (got.modRevision > maxAcked) maxAcked = got.modRevision;
            }
            st.pending.clear();
          }
        } finally {
          reader.close();
        }
        if (Date.now() - started > 60_000 && cycle >= 3) {
          history.push(`stopped after ${cycle} cycles (60 s budget)`);
          break;
        }
      }
      assert.ok(totalAcked >= MIN_ACKED, `only ${totalAcked} puts acknowledged in all cycles (need ${MIN_ACKED}): ${history.join('; ')}`);
      process.stdout.write(`# durability ${target.name} seed ${SEED}: ${totalAcked} acked puts, ${keys.size} keys; ${history.join('; ')}\n`);
    } finally {
      await sut.stop();
    }
  });
}
