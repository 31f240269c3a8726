// Leases keep their attached keys across restarts, and revoke/expiry still delete
// those keys afterwards, on the real etcd 3.4.23 and on ours (serverTargets()).
//
// Each case starts one member, grants two leases with the real etcdctl, attaches a key
// to each, stops the member at one point and restarts it on the same data dir:
//   - SIGTERM right after the put was acknowledged (graceful stop);
//   - kill -9 right after the ack (the backend has not committed: WAL replay re-applies);
//   - kill -9 after the backend committed (etcd commits every 100 ms; the restart then
//     skips the entries by consistent index and mvcc re-attaches the keys);
//   - kill -9 after a raft snapshot (--snapshot-count=5, a .snap file exists);
//   - kill -9 right after the ack, restart (WAL replay), kill -9 again after the
//     replayed entries were committed, restart.
// After the restart it checks, for the real etcdctl's output:
//   - `lease timetolive L --keys` prints the lease with its key attached;
//   - the remaining TTL was renewed to the full TTL when the member became leader again
//     (etcd lessor.Promote(electionTimeout) on the leader's first entry): it lies in
//     [floor(TTL + 1 - s), TTL], s being the seconds from the restart to the reply
//     (the promotion happened after the restart began, so the expiry is at least
//     restart + 1 s + TTL; and before the reply, so less than TTL + 1 s is left, which
//     etcd truncates to at most TTL). A lease still counting down from its grant is
//     below the lower bound, the old rounding up (101 for 100) above the upper one;
//   - revoking the first lease deletes its key, and the second (short) lease expires
//     by itself and its key is deleted (polled until a deadline: not a timing check).
// Real etcd is the control: the same assertions must hold there.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { runCli, REAL } from '../../harness/run.js';
import { serverTargets, ServerUnderTest, type ServerTarget } from '../../harness/server-under-test.js';

/** TTL of the lease revoked explicitly, s. */
const LONG_TTL = 100;
/** TTL of the lease left to expire, s (long enough to outlive the crash steps). */
const SHORT_TTL = 10;
/** etcd's default election timeout, s: the promotion extends every lease by it. */
const ELECTION_TIMEOUT_S = 1;
/** Longer than etcd's backend batch interval (100 ms), with margin for a loaded machine. */
const AFTER_COMMIT_MS = 1500;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs the real etcdctl against `sut`; fails the test on a non-zero exit. */
async function ctl(sut: ServerUnderTest, args: string[]): Promise<string> {
  const r = await runCli(REAL, [`--endpoints=${sut.endpoint}`, ...args]);
  assert.equal(r.code, 0, `etcdctl ${args.join(' ')} exited ${r.code}: ${r.stderr}\n--- server log (tail) ---\n${sut.log().slice(-3000)}`);
  return r.stdout.toString('utf8');
}

/** Grants a lease and returns its hex ID as etcdctl prints it. */
async function grant(sut: ServerUnderTest, ttl: number): Promise<string> {
  const out = await ctl(sut, ['lease', 'grant', String(ttl)]);
  const m = /^lease ([0-9a-f]{16}) granted with TTL\((\d+)s\)\n$/.exec(out);
  assert.ok(m, `unexpected grant output ${JSON.stringify(out)}`);
  return m[1]!;
}

/** SIGTERM and wait until the process has exited (the member closes gracefully). */
async function sigterm(sut: ServerUnderTest): Promise<void> {
  const pid = sut.pid;
  assert.ok(pid !== undefined, 'server not running');
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 30_000;
  while (!sut.exitState()) {
    if (Date.now() > deadline) throw new Error(`${sut.target.name} did not exit within 30 s of SIGTERM`);
    await sleep(20);
  }
}

/** Waits until member/snap holds a raft snapshot file (etcd: <index hex>-<term hex>.snap). */
async function waitForSnapFile(sut: ServerUnderTest): Promise<void> {
  const dir = path.join(sut.dataDir, 'member', 'snap');
  const deadline = Date.now() + 30_000;
  while (!fs.readdirSync(dir).some((f) => f.endsWith('.snap'))) {
    if (Date.now() > deadline) throw new Error(`no .snap file in ${dir} after 30 s: ${fs.readdirSync(dir).join(', ')}`);
    await sleep(50);
  }
}

interface CrashCase {
  name: string;
  extraArgs?: string[];
  /** Stops the member after the leases and keys exist; `restart` restarts it and returns when it is ready. */
  crash(sut: ServerUnderTest, restart: () => Promise<void>): Promise<void>;
}

const CASES: CrashCase[] = [
  {
    name: 'SIGTERM right after the ack',
    crash: (sut) => sigterm(sut),
  },
  {
    name: 'kill -9 right after the ack',
    crash: (sut) => sut.kill9(),
  },
  {
    name: 'kill -9 after the backend commit',
    crash: async (sut) => {
      await sleep(AFTER_COMMIT_MS);
      await sut.kill9();
    },
  },
  {
    name: 'kill -9 after a raft snapshot',
    extraArgs: ['--snapshot-count=5'],
    crash: async (sut) => {
      for (let i = 0; i < 8; i++) await ctl(sut, ['put', `filler${i}`, 'v']);
      await waitForSnapFile(sut);
      await sleep(AFTER_COMMIT_MS);
      await sut.kill9();
    },
  },
  {
    name: 'kill -9 after the ack, restart (WAL replay), kill -9 after the commit',
    crash: async (sut, restart) => {
      await sut.kill9();
      await restart();
      await sleep(AFTER_COMMIT_MS);
      await sut.kill9();
    },
  },
];

/** Asserts the timetolive --keys output and the remaining-TTL bounds described at the top. */
function checkTimeToLive(out: string, id: string, ttl: number, key: string, secondsSinceRestart: number, ctx: string): void {
  const m = /^lease ([0-9a-f]{16}) granted with TTL\((\d+)s\), remaining\((-?\d+)s\), attached keys\(\[(.*)\]\)\n$/.exec(out);
  assert.ok(m, `unexpected timetolive output ${JSON.stringify(out)} (${ctx})`);
  assert.equal(m[1], id, ctx);
  assert.equal(Number(m[2]), ttl, ctx);
  assert.equal(m[4], key, `attached keys of lease ${id} (${ctx}): ${out}`);
  const remaining = Number(m[3]);
  const lower = Math.floor(ttl + ELECTION_TIMEOUT_S - secondsSinceRestart);
  assert.ok(remaining <= ttl && remaining >= lower,
    `remaining(${remaining}s) of a ${ttl} s lease ${secondsSinceRestart.toFixed(3)} s after the restart began: want [${lower}, ${ttl}] (${ctx})`);
}

for (const target of serverTargets()) {
  describe(`leases survive restarts (${target.name})`, { concurrency: 3 }, () => {
    for (const c of CASES) {
      test(c.name, { timeout: 120_000 }, () => runCase(target, c));
    }
  });
}

async function runCase(target: ServerTarget, c: CrashCase): Promise<void> {
  const sut = await ServerUnderTest.start(target, { extraArgs: c.extraArgs });
  const ctx = `${target.name}, ${c.name}`;
  try {
    const long = await grant(sut, LONG_TTL);
    const short = await grant(sut, SHORT_TTL);
    await ctl(sut, ['put', 'lk/long', 'v1', `--lease=${long}`]);
    await ctl(sut, ['put', 'lk/short', 'v2', `--lease=${short}`]);

    // renew the short lease so that the crash steps (a few seconds) leave it alive
    await ctl(sut, ['lease', 'keep-alive', '--once', short]);
    let restartedAt = 0;
    const restart = async () => {
      restartedAt = performance.now();
      await sut.restart();
    };
    await c.crash(sut, restart);
    await restart();

    const ttlLong = await ctl(sut, ['lease', 'timetolive', long, '--keys']);
    checkTimeToLive(ttlLong, long, LONG_TTL, 'lk/long', (performance.now() - restartedAt) / 1000, ctx);
    const ttlShort = await ctl(sut, ['lease', 'timetolive', short, '--keys']);
    checkTimeToLive(ttlShort, short, SHORT_TTL, 'lk/short', (performance.now() - restartedAt) / 1000, ctx);

    assert.equal(await ctl(sut, ['lease', 'revoke', long]), `lease ${long} revoked\n`, ctx);
    assert.equal(await ctl(sut, ['get', 'lk/long']), '', `lk/long still there after revoking its lease (${ctx})`);
    assert.equal(await ctl(sut, ['lease', 'timetolive', long]), `lease ${long} already expired\n`, ctx);

    // the short lease expires by itself: the leader revokes it through raft
    const deadline = Date.now() + 60_000;
    let left = '';
    for (;;) {
      left = await ctl(sut, ['get', 'lk/', '--prefix', '--keys-only']);
      if (left === '') break;
      if (Date.now() > deadline) break;
      await sleep(250);
    }
    assert.equal(left, '', `lk/short not deleted 60 s after the restart although its lease has TTL ${SHORT_TTL} s (${ctx})\n--- server log (tail) ---\n${sut.log().slice(-3000)}`);
    assert.equal(await ctl(sut, ['lease', 'timetolive', short]), `lease ${short} already expired\n`, ctx);
    assert.equal(await ctl(sut, ['lease', 'list']), 'found 0 leases\n', ctx);
  } finally {
    await sut.stop();
  }
}
