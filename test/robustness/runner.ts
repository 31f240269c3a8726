// One seeded robustness run against a 3-member cluster (real etcd 3.4.23 or ours):
//
//   1. network namespaces for the members (each has its own address, routed through
//      this process's namespace, so iptables can cut one off), cluster started,
//      healthy: every member reports the same leader and a put succeeds;
//   2. traffic (traffic.ts) and watches start; after a while the fault is injected,
//      lasts a while, and is healed; traffic goes on, then stops;
//   3. the last write after healing must succeed (retried on each member for 30 s),
//      then a delete of the same key, a linearizable read of everything on each member;
//      the watches are given time to catch up (progress requests) and closed;
//   4. the members must converge: same revision and applied index; a compaction at
//      half the final revision; HashKV at the final revision on each;
//   5. check.ts runs every check on the recorded history.
//
// Faults (FAULTS): kill -9 of the leader / a follower and restart on the same data
// dir; SIGSTOP then SIGCONT of the leader / a follower; the leader / a follower cut off
// from the other members with iptables; every member killed and restarted at once; a
// member cut off and healed several times in a row (flapping); peer traffic delayed or
// its connections reset by a userspace proxy (proxy.ts); a follower removed, wiped and
// added again; the last WAL record of a killed member torn before its restart; the
// fsyncs of a member failing (strace fault injection). See README.md "Faults".
//
// Everything random (fault, timings, each client's requests, watches) comes from the
// seed. The schedule of the machine and the servers is not: a seed replays the same
// plan, not the same interleaving.
//
// Needs root and to run inside a private network namespace (main.ts re-runs itself
// under `unshare -n`).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startRealCluster, type ClusterMember, type RealCluster } from '../harness/cluster.js';
import { getFreePort } from '../harness/ports.js';
import { checkHistory, type CheckReport } from './check.js';
import { Rng } from './corpus.js';
import { failFsyncs, lastFatal, replaceMember, tearWalTail, type TearMode } from './faults.js';
import { PeerProxy, type ProxyFault } from './proxy.js';
import type { History, MemberFinal, Request } from './history.js';
import { Conn, Recorder, Traffic, Watcher, compact, hashKV, statusOf, untilOk, type WatchSpec } from './traffic.js';

/** The faults a run can inject (the seed picks one: FAULTS[seed % FAULTS.length]). */
export const FAULTS = [
  'kill-leader', 'kill-follower', 'pause-leader', 'pause-follower', 'partition-leader', 'partition-follower', 'restart-all',
  'flapping-partition', 'peer-proxy', 'member-replace', 'torn-wal', 'fsync-fail',
] as const;
export type FaultKind = (typeof FAULTS)[number];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PREFIX = '/rb/';

/** Options of one run. */
export interface RunOptions {
  seed: number;
  binary: string;
  /** Force a fault kind (default: by seed). */
  fault?: FaultKind;
  /** Minimum traffic rate over the traffic period, ops/s (a run below it fails). */
  minRate: number;
  /** Paced request rate of the clients, ops/s. */
  rate: number;
  clients: number;
  /** Violation kinds reported apart as known server behaviour (check.ts `known`). */
  known?: string[];
  /** Where to write the history of a failed run (JSON), if anywhere. */
  outDir?: string;
  log?: (line: string) => void;
}

/** What one run did and found. */
export interface RunResult {
  seed: number;
  fault: FaultKind;
  operations: number;
  /** Operations that reached a member (not failed before sending). */
  sent: number;
  /** Operations grpc-js failed before sending them (no connection). */
  notSent: number;
  ok: number;
  ambiguous: number;
  rate: number;
  watchEvents: number;
  report: CheckReport;
  /** Problems of the run that are not checker violations (no write after healing, too little traffic, ...). */
  failures: string[];
  /** What the fault did, when there is more to say than its kind (the member's answer to a torn WAL, ...). */
  faultNote?: string;
  durationMs: number;
  historyFile?: string;
}

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}${r.error ? String(r.error) : ''}`);
  return r.stdout;
}

/** Member namespaces `etcdrb-<pid>-<j>`, address 10.98.<j>.2, routed through this namespace. */
class Network {
  private made: number[] = [];
  ns(j: number): string {
    return `etcdrb-${process.pid}-${j}`;
  }
  addr(j: number): string {
    return `10.98.${j}.2`;
  }
  setup(): void {
    sh('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    for (const j of [1, 2, 3]) {
      const ns = this.ns(j);
      spawnSync('ip', ['link', 'del', `rb${j}`]);
      spawnSync('ip', ['netns', 'del', ns]);
      sh('ip', ['netns', 'add', ns]);
      this.made.push(j);
      sh('ip', ['link', 'add', `rb${j}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      sh('ip', ['addr', 'add', `10.98.${j}.1/24`, 'dev', `rb${j}`]);
      sh('ip', ['link', 'set', `rb${j}`, 'up']);
      sh('ip', ['-n', ns, 'addr', 'add', `${this.addr(j)}/24`, 'dev', 'eth0']);
      sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      sh('ip', ['-n', ns, 'route', 'add', 'default', 'via', `10.98.${j}.1`]);
    }
  }
  teardown(): void {
    this.heal();
    for (const j of this.made.splice(0)) {
      spawnSync('ip', ['link', 'del', `rb${j}`]);
      spawnSync('ip', ['netns', 'del', this.ns(j)]);
    }
  }
  /** Cuts `host` off from the other members (peer traffic crosses FORWARD; the runner's own traffic does not). */
  partition(host: string): void {
    sh('iptables', ['-A', 'FORWARD', '-s', host, '-j', 'DROP']);
    sh('iptables', ['-A', 'FORWARD', '-d', host, '-j', 'DROP']);
  }
  heal(): void {
    spawnSync('iptables', ['-F', 'FORWARD']);
  }
  /**
   * Sends the peer connections from member j to member k (k's address, port
   * `peerPorts[k-1]`) to the proxy's listener for k, `proxyPorts[k-1]` on 10.98.j.1
   * (DNAT in PREROUTING; the proxy's own connections to k leave through OUTPUT).
   */
  redirectPeers(peerPorts: number[], proxyPorts: number[]): void {
    for (const j of [1, 2, 3]) {
      for (const k of [1, 2, 3]) {
        if (j === k) continue;
        sh('iptables', ['-t', 'nat', '-A', 'PREROUTING', '-i', `rb${j}`, '-p', 'tcp', '-d', this.addr(k), '--dport', String(peerPorts[k - 1]), '-j', 'DNAT', '--to-destination', `10.98.${j}.1:${proxyPorts[k - 1]}`]);
      }
    }
  }
  unredirect(): void {
    spawnSync('iptables', ['-t', 'nat', '-F', 'PREROUTING']);
  }
}

/** The current leader's member, asking each member's Status (undefined if they do not agree). */
async function leaderOf(cluster: RealCluster, conns: Conn[]): Promise<ClusterMember | undefined> {
  const st = await Promise.all(conns.map(statusOf));
  const ids = new Set(st.map((s) => s?.leader));
  if (ids.size !== 1 || st.some((s) => !s)) return undefined;
  const id = st[0]!.leader;
  return cluster.members.find((m) => m.memberIdHex === id);
}

/** What a fault left to report: a note for the run line, a failure of the run. */
interface FaultOutcome {
  note?: string;
  failure?: string;
}

async function injectFault(kind: FaultKind, cluster: RealCluster, conns: Conn[], net: Network, proxy: PeerProxy | undefined, rng: Rng, log: (s: string) => void): Promise<FaultOutcome> {
  let leader: ClusterMember | undefined;
  for (let i = 0; i < 50 && !leader; i++) {
    leader = await leaderOf(cluster, conns);
    if (!leader) await sleep(100);
  }
  if (!leader) throw new Error('no agreed leader before the fault');
  const followers = cluster.members.filter((m) => m !== leader);
  // kinds without a role in their name hit the leader or a follower, by seed
  const role = kind.endsWith('leader') ? 'leader' : kind.endsWith('follower') || kind === 'member-replace' ? 'follower' : rng.pick(['leader', 'follower'] as const);
  const target = role === 'leader' ? leader : rng.pick(followers);
  const hold = 1500 + rng.int(2000);
  log(`fault ${kind} on ${target.name} (${role}) for ${hold} ms`);
  const host = new URL(target.clientURL).hostname;
  switch (kind) {
    case 'kill-leader':
    case 'kill-follower':
      await target.stop();
      await sleep(hold);
      await target.restart();
      break;
    case 'pause-leader':
    case 'pause-follower':
      target.signal('SIGSTOP');
      await sleep(hold);
      target.signal('SIGCONT');
      break;
    case 'partition-leader':
    case 'partition-follower':
      net.partition(host);
      await sleep(hold);
      net.heal();
      break;
    case 'restart-all':
      await Promise.all(cluster.members.map((m) => m.stop()));
      await sleep(hold / 3);
      await Promise.all(cluster.members.map((m) => m.restart()));
      break;
    case 'flapping-partition': {
      // cut off and healed 3..5 times, 200..1000 ms each way
      const cycles = 3 + rng.int(3);
      const spans: number[] = [];
      for (let i = 0; i < cycles; i++) {
        const on = 200 + rng.int(800);
        const off = 200 + rng.int(800);
        spans.push(on, off);
        net.partition(host);
        await sleep(on);
        net.heal();
        await sleep(off);
      }
      return { note: `${role} ${target.name} cut off / healed ${cycles} times (ms: ${spans.join(',')})` };
    }
    case 'peer-proxy': {
      if (!proxy) throw new Error('peer-proxy without a proxy');
      const mode = rng.pick(['delay', 'drop', 'delay+drop'] as const);
      const f: ProxyFault = {};
      if (mode !== 'drop') f.delay = [50, 300];
      if (mode !== 'delay') f.drop = (1 + rng.int(5)) / 100;
      const scope = rng.int(2) === 0 ? 'all links' : `the links of ${role} ${target.name}`;
      if (scope !== 'all links') f.host = host;
      const before = await proxy.setFault(f);
      await sleep(hold);
      const during = (await proxy.setFault({})) - before;
      const note = `${mode} (${JSON.stringify(f)}) on ${scope}; ${before} peer connections through the proxy before, ${during} during the fault`;
      // a redirection that did not take would leave the fault without effect
      return before > 0 ? { note } : { note, failure: 'peer-proxy: no peer connection went through the proxy' };
    }
    case 'member-replace': {
      const id = await replaceMember(cluster, conns, target, hold / 2, log);
      return { note: `follower ${target.name} removed, wiped, added again as ${id}` };
    }
    case 'torn-wal': {
      const mode = rng.pick(['truncate', 'zero', 'garble'] as TearMode[]);
      await target.stop();
      const what = tearWalTail(target.dataDir, mode, rng);
      log(`torn WAL of ${target.name}: ${what}`);
      await sleep(hold / 2);
      try {
        await target.restart();
        const repair = target.log().split('\n').find((l) => /repair|truncat|torn/i.test(l));
        const said = repair ? /"msg":"([^"]*)"/.exec(repair)?.[1] ?? repair.slice(0, 200) : undefined;
        return { note: `${role} ${target.name}, ${mode}: ${what}; restarted (${said ? `logged: ${said}` : 'no repair logged'})` };
      } catch {
        // refused to start: wiped and added again
        const why = lastFatal(target.log());
        log(`${target.name} refused to start: ${why}`);
        const id = await replaceMember(cluster, conns, target, 0, log);
        return { note: `${role} ${target.name}, ${mode}: ${what}; refused to start (${why}); wiped and added again as ${id}` };
      }
    }
    case 'fsync-fail': {
      const pid = target.pid();
      if (pid === undefined) throw new Error(`${target.name} is not running`);
      const exited = target.exited();
      const detach = await failFsyncs(pid);
      const status = await Promise.race([exited, sleep(hold).then(() => undefined)]);
      await detach();
      if (status === undefined) {
        await target.stop();
        await target.restart();
        return { note: `${role} ${target.name} still running ${hold} ms after its fsyncs began to fail`, failure: `fsync-fail: ${target.name} did not stop within ${hold} ms of its fsyncs failing (EIO)` };
      }
      const why = lastFatal(target.log());
      await sleep(hold / 3);
      await target.restart();
      return { note: `${role} ${target.name} stopped (exit ${status}): ${why}` };
    }
  }
  return {};
}

/** Runs one seeded run (see the module comment). Throws only on harness errors (the cluster does not start, ...). */
export async function runOnce(o: RunOptions): Promise<RunResult> {
  const t0 = Date.now();
  const rng = new Rng(o.seed * 2_654_435_761);
  // the fault's own draws (when, what, on whom) from a stream of their own: the watches
  // draw from `rng` while the fault waits, so a shared stream would depend on timing
  const faultRng = new Rng((o.seed * 2_654_435_761) ^ 0x5bd1e995);
  const before = 1000 + faultRng.int(1000);
  const after = 1500 + faultRng.int(1000);
  const fault = o.fault ?? FAULTS[o.seed % FAULTS.length]!;
  const log = o.log ?? (() => {});
  const failures: string[] = [];
  const net = new Network();
  net.heal();
  net.unredirect();
  net.setup();
  let cluster: RealCluster | undefined;
  let proxy: PeerProxy | undefined;
  const conns: Conn[] = [];
  const watchers: Watcher[] = [];
  let watchesStarted: Promise<void> | undefined;
  try {
    let peerPorts: number[] | undefined;
    if (fault === 'peer-proxy') {
      // peers reach each other through the proxy from the start (proxy.ts)
      peerPorts = [await getFreePort(), await getFreePort(), await getFreePort()];
      const proxyPorts = [await getFreePort(), await getFreePort(), await getFreePort()];
      proxy = await PeerProxy.start(proxyPorts.map((listenPort, i) => ({ listenPort, host: net.addr(i + 1), port: peerPorts![i]! })));
      net.redirectPeers(peerPorts, proxyPorts);
    }
    cluster = await startRealCluster(3, { binary: o.binary, hosts: [1, 2, 3].map((j) => net.addr(j)), spawnPrefix: (i) => ['ip', 'netns', 'exec', net.ns(i + 1)], startupTimeoutMs: 60_000, ...(peerPorts ? { peerPorts } : {}) });
    for (const m of cluster.members) conns.push(new Conn({ name: m.name, endpoint: m.endpoint }));
    const rec = new Recorder();
    // healthy: an agreed leader and a write
    for (let i = 0; !(await leaderOf(cluster, conns)); i++) {
      if (i > 100) throw new Error('the cluster has no agreed leader');
      await sleep(100);
    }
    const health = await rec.run(0, conns[0]!, { type: 'put', key: `${PREFIX}health`, value: `seed${o.seed}` }, 5000);
    if (health.status !== 'ok') throw new Error(`the cluster is not healthy: the first put failed (${health.detail ?? health.error})`);
    // the reference watch (everything, from the first revision, prev_kv), then traffic
    watchers.push(new Watcher(0, conns, { key: PREFIX, end: prefixEndOf(PREFIX), prevKv: true, filters: [], startRevision: 1 }, 0));
    const traffic = new Traffic(rec, conns, { seed: o.seed, clients: o.clients, rate: o.rate, timeoutMs: 1500, keyPrefix: PREFIX });
    const trafficStart = Date.now();
    traffic.start();
    const moreWatches = async () => {
      for (let i = 1; i <= 4; i++) {
        await sleep(200 + rng.int(600));
        const spec: WatchSpec = {
          key: rng.pick([PREFIX, `${PREFIX}k`]),
          prevKv: rng.int(2) === 0,
          filters: rng.pick([[], [], ['noput'], ['nodelete']] as Array<Array<'noput' | 'nodelete'>>),
          startRevision: Math.max(1, traffic.maxRevision - rng.int(30)),
        };
        spec.end = rng.int(3) === 0 ? '\0' : prefixEndOf(spec.key);
        watchers.push(new Watcher(i, conns, spec, rng.int(3)));
      }
    };
    watchesStarted = moreWatches();
    await sleep(before);
    const outcome = await injectFault(fault, cluster, conns, net, proxy, faultRng, log);
    if (outcome.failure) failures.push(outcome.failure);
    await sleep(after);
    await watchesStarted;
    await traffic.stop();
    const trafficMs = Date.now() - trafficStart;
    // requests that reached a member (calls failed before sending do not count)
    const sent = rec.operations.filter((x) => x.error !== 'not sent').length;
    const rate = (sent / trafficMs) * 1000;
    if (rate < o.minRate) failures.push(`traffic ${rate.toFixed(0)} ops/s is below the minimum ${o.minRate}`);
    // the last write after healing, a delete of it (so filtered watches see an end), reads
    const finalOps: Array<[string, Request]> = [['put', { type: 'put', key: `${PREFIX}kz`, value: `final` }], ['delete', { type: 'delete', key: `${PREFIX}kz` }]];
    let finalRev = 0;
    for (const [what, req] of finalOps) {
      const deadline = Date.now() + 30_000;
      let attempt = 0;
      for (;;) {
        const r: Request = req.type === 'put' ? { ...req, value: `final-${attempt}` } : req;
        const op = await rec.run(99, conns[attempt % conns.length]!, r, 3000);
        if (op.status === 'ok') {
          finalRev = Math.max(finalRev, op.response!.revision);
          break;
        }
        attempt++;
        if (Date.now() > deadline) {
          failures.push(`the last ${what} after healing did not succeed within 30 s: ${op.detail ?? op.error}`);
          break;
        }
        await sleep(300);
      }
    }
    for (const c of conns) await rec.run(98, c, { type: 'range', key: PREFIX, end: prefixEndOf(PREFIX) }, 5000);
    // watches catch up
    const catchUp = Date.now() + 20_000;
    for (const w of watchers) {
      const want = w.record.filters.includes('nodelete') ? finalRev - 1 : finalRev;
      while (w.seen < want && Date.now() < catchUp) {
        w.requestProgress();
        await sleep(200);
      }
    }
    await Promise.all(watchers.map((w) => w.close()));
    // convergence
    const finals: MemberFinal[] = [];
    const convergeBy = Date.now() + 30_000;
    for (;;) {
      const st = await Promise.all(conns.map(statusOf));
      if (st.every((s) => s && s.revision === st[0]!.revision && s.applied === st[0]!.applied)) break;
      if (Date.now() > convergeBy) {
        failures.push(`members did not converge within 30 s: ${JSON.stringify(st)}`);
        break;
      }
      await sleep(300);
    }
    if (finalRev > 2) {
      try {
        await untilOk(conns, 10_000, (c) => compact(c, Math.floor(finalRev / 2)));
        // every member applies the compaction
        for (let i = 0; i < 50; i++) {
          const st = await Promise.all(conns.map(statusOf));
          if (st.every((s) => s && s.applied === st[0]!.applied)) break;
          await sleep(200);
        }
      } catch (e) {
        failures.push(`compaction failed: ${(e as Error).message}`);
      }
    }
    for (const [i, c] of conns.entries()) {
      try {
        const h = await hashKV(c, finalRev);
        const st = await statusOf(c);
        finals.push({ member: cluster.members[i]!.name, revision: st?.revision ?? -1, hashRevision: finalRev, hash: h.hash, compactRevision: h.compactRevision });
      } catch (e) {
        failures.push(`HashKV on ${cluster.members[i]!.name} failed: ${String((e as { details?: string }).details ?? e)}`);
      }
    }
    const history: History = { operations: rec.operations, watches: watchers.map((w) => w.record), firstRevision: 1, finals };
    const report = checkHistory(history, { deadlineMs: 120_000, known: o.known });
    if (report.linearizability === 'unknown') failures.push(`the linearizability search ran out of time${report.linearizabilityReport ? `:\n${report.linearizabilityReport}` : ''}`);
    const result: RunResult = {
      seed: o.seed,
      fault,
      operations: rec.operations.length,
      notSent: rec.operations.filter((x) => x.error === 'not sent').length,
      sent: rec.operations.filter((x) => x.error !== 'not sent').length,
      ok: rec.operations.filter((x) => x.status === 'ok').length,
      ambiguous: report.ambiguous,
      rate,
      watchEvents: report.watchEventsChecked,
      report,
      failures,
      ...(outcome.note ? { faultNote: outcome.note } : {}),
      durationMs: Date.now() - t0,
    };
    if ((report.violations.length > 0 || report.known.length > 0 || failures.length > 0) && o.outDir) {
      fs.mkdirSync(o.outDir, { recursive: true });
      const file = path.join(o.outDir, `history-seed${o.seed}-${path.basename(o.binary)}-${Date.now()}.json`);
      fs.writeFileSync(file, JSON.stringify({ seed: o.seed, fault, faultNote: outcome.note, binary: o.binary, failures, violations: report.violations, known: report.known, history, logs: Object.fromEntries(cluster.members.map((m) => [m.name, m.log().slice(-200_000)])) }, (_k, v) => (v === Infinity ? 'Infinity' : v)));
      result.historyFile = file;
    }
    return result;
  } finally {
    net.heal();
    // after a harness error, the watches still to be opened are opened before everything is closed
    await watchesStarted?.catch(() => {});
    for (const w of watchers) await w.close().catch(() => {});
    for (const c of conns) c.close();
    if (cluster) {
      for (const m of cluster.members) m.signal('SIGCONT');
      await cluster.stopAll();
    }
    proxy?.close();
    net.unredirect();
    net.teardown();
  }
}

function prefixEndOf(p: string): string {
  return p.slice(0, -1) + String.fromCharCode(p.charCodeAt(p.length - 1) + 1);
}
