// Cluster-maintenance commands against the real etcdctl 3.4.23: endpoint health/status/
// hashkv, alarm list/disarm, defrag, move-leader and member add/remove/update/list/promote,
// in every output format (including tablewriter's ASCII tables), with --cluster, help
// texts and argument / server errors. Read-only cases run both binaries against one
// server; mutating ones run as scenarios on twin servers with identical IDs.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startComparedEtcd, startTwinEtcds, stopAll, type RealEtcd } from '../harness/etcd.js';
import {
  compareCli,
  composeNormalizers,
  ENDPOINT_PLACEHOLDER,
  errorLine,
  normalizeDbSize,
  normalizeDurations,
  normalizeEndpoint,
  OURS,
  runCli,
  runScenario,
  type Normalizer,
  type ScenarioStep,
  type StderrMode,
} from '../harness/run.js';
import { CLI_ONLY, SERVE, skipInServe } from '../harness/target.js';

interface Case {
  args: string[];
  stderr?: StderrMode;
  normalize?: Normalizer;
  /** no --endpoints prepended (help, or own endpoints) */
  noServer?: boolean;
}

const FORMATS = ['simple', 'json', 'fields', 'protobuf', 'table'];

/** Durations vary, and with them the widths of table columns: squeeze runs of padding. */
const squeezeTable: Normalizer = (t) => t.replace(/-+/g, '-').replace(/ +/g, ' ');
const health = composeNormalizers(
  normalizeDurations,
  (t) => t.replace(/("Took" : )\S+/g, '$1<DURATION>').replace(/(\| +(?:true|false) +\| +)[0-9.]+(?:ns|µs|ms|s)/g, '$1<DURATION>'),
  squeezeTable,
);
/** the db size changes as the server commits its backend in the background */
const status = composeNormalizers(normalizeDbSize, squeezeTable);

/**
 * New member IDs are random: replace every 13–16 digit hex ID and every long decimal ID
 * that is not the server's own member or cluster ID.
 */
const normalizeNewIds: Normalizer = (text, ctx) => {
  const s = ctx.server as RealEtcd | undefined;
  if (!s) return text;
  const known = new Set([s.memberIdHex, s.clusterIdHex, BigInt('0x' + s.memberIdHex).toString(), BigInt('0x' + s.clusterIdHex).toString()]);
  return text
    .replace(/\b[0-9a-f]{13,16}\b/g, (m) => (known.has(m) ? m : '<NEWID>'))
    .replace(/(?<![0-9])[0-9]{17,20}(?![0-9])/g, (m) => (known.has(m) ? m : '<NEWID>'));
};

/** Raft indexes and revisions (they depend on how many puts fitted before NOSPACE). */
const normalizeIndexes: Normalizer = (t) =>
  t
    .replace(/("(?:revision|raftIndex|raftAppliedIndex)":)\d+/g, '$1<N>')
    .replace(/("(?:Revision|RaftIndex|RaftAppliedIndex)" : )\d+/g, '$1<N>')
    .replace(/((?:true|false), (?:true|false), \d+), \d+, \d+,/g, '$1, <N>, <N>,')
    .replace(/(\| +(?:true|false) +\| +\d+ +\| +)\d+( +\| +)\d+/g, '$1<N>$2<N>');

/** Member order follows the (random) new member IDs: sort lines, and the ETCD_INITIAL_CLUSTER list. */
const sortMembers: Normalizer = (t) =>
  t
    .split('\n')
    .map((l) => l.replace(/^(ETCD_INITIAL_CLUSTER=")([^"]*)"/, (_m, a: string, b: string) => a + b.split(',').sort().join(',') + '"'))
    .sort()
    .join('\n')
    .replace(/Member +<NEWID>/g, 'Member <NEWID>');

const HELP: Case[] = [
  'endpoint', 'endpoint health', 'endpoint status', 'endpoint hashkv', 'alarm', 'alarm list', 'alarm disarm',
  'defrag', 'move-leader', 'member', 'member add', 'member remove', 'member update', 'member list', 'member promote',
].map((c) => ({ args: [...c.split(' '), '--help'], noServer: true }));
HELP.push({ args: ['help', 'endpoint', 'hashkv'], noServer: true }, { args: ['endpoint', 'status', '-h', '--cluster'], noServer: true });

/** Read-only (or idempotent) cases against one single-member server. */
const READ_ONLY: Case[] = [
  ...FORMATS.flatMap((w): Case[] => [
    { args: ['-w', w, 'member', 'list'] },
    { args: ['-w', w, 'endpoint', 'hashkv'] },
    { args: ['-w', w, 'endpoint', 'hashkv', '--cluster'] },
    { args: ['-w', w, 'endpoint', 'health'], normalize: health, stderr: 'nonLog' },
    { args: ['-w', w, 'endpoint', '--cluster', 'health'], normalize: health, stderr: 'nonLog' },
    { args: ['-w', w, 'alarm', 'list'] },
    { args: ['-w', w, 'defrag'], stderr: 'nonLog' },
    { args: ['-w', w, 'move-leader', 'ffff'] },
  ])
    .filter((c) => !(c.args[1] === 'fields' && c.args[2] === 'alarm')), // 3.4 crashes: see the dedicated test
  { args: ['member', 'list', '--hex', '-w', 'json'] },
  { args: ['member', 'list', '--hex'] },
  { args: ['-w', 'bogus', 'member', 'list'] },
  { args: ['-w', 'bogus', 'defrag'] },
  { args: ['endpoint', 'hashkv', '--rev=1'] },
  { args: ['endpoint', 'hashkv', '--rev', '1', '-w', 'json'] },
  { args: ['endpoint', 'hashkv', '--rev=99'] },
  { args: ['endpoint', 'hashkv', '--rev=x'], stderr: 'full' },
  { args: ['defrag', '--cluster'], stderr: 'nonLog' },
  { args: ['alarm', 'disarm'] },
  { args: ['alarm', 'disarm', '-w', 'json'] },
  { args: ['alarm', 'disarm', '-w', 'protobuf'] },
  { args: ['alarm', 'list', 'x'] },
  { args: ['alarm', 'disarm', 'x'] },
  // move-leader
  { args: ['move-leader'] },
  { args: ['move-leader', 'a', 'b'] },
  { args: ['move-leader', 'zz'] },
  { args: ['move-leader', '0x12'] },
  { args: ['move-leader', '1ffffffffffffffff'] },
  // member argument errors and single-member server errors
  { args: ['member', 'add'] },
  { args: ['member', 'add', 'a', 'b'] },
  { args: ['member', 'add', 'a', 'http://x:1', 'HTTPS://y:2'] },
  { args: ['member', 'add', 'a'] },
  { args: ['member', 'add', 'a', '--peer-urls='] },
  ...['foo', '127.0.0.1:5', 'localhost:5', 'http://x', 'http://x:1/p', 'http://[::1', 'http://h:x', ':1', 'ftp://a:1', 'http://a:1,,'].map(
    (u): Case => ({ args: ['member', 'add', 'n', `--peer-urls=${u}`] }),
  ),
  { args: ['member', 'remove'] },
  { args: ['member', 'remove', 'zz'] },
  { args: ['member', 'remove', '1', '2'] },
  { args: ['member', 'remove', '1234'] },
  { args: ['member', 'update', '1234'] },
  { args: ['member', 'update', 'xyz', '--peer-urls=http://a:1'] },
  { args: ['member', 'update', '1234', '--peer-urls=http://127.0.0.1:9'] },
  { args: ['member', 'update', '1234', '--peer-urls=ftp://a:1'] },
  { args: ['member', 'promote'] },
  { args: ['member', 'promote', 'xyz'] },
  { args: ['member', 'promote', '1234'] },
];

/** Status cases: run on their own, as raft indexes move with concurrent server errors. */
const STATUS: Case[] = FORMATS.flatMap((w): Case[] => [
  { args: ['-w', w, 'endpoint', 'status'], normalize: status },
  { args: ['-w', w, 'endpoint', 'status', '--cluster'], normalize: status },
]);

/** Unreachable endpoints: per-endpoint failure reporting (stderr compared without zap log lines). */
const UNREACHABLE: Case[] = [
  { args: ['--endpoints=127.0.0.1:1', '--command-timeout=1s', 'endpoint', 'status'], stderr: 'nonLog', noServer: true },
  { args: ['--endpoints=127.0.0.1:1', '--command-timeout=1s', 'endpoint', 'hashkv'], stderr: 'nonLog', noServer: true },
  { args: ['--endpoints=127.0.0.1:1', '--command-timeout=1s', 'defrag'], stderr: 'nonLog', noServer: true },
  { args: ['--endpoints=127.0.0.1:1', '--command-timeout=1s', 'endpoint', 'health'], stderr: 'nonLog', noServer: true },
  { args: ['--endpoints=127.0.0.1:1', '--command-timeout=1s', '-w', 'json', 'endpoint', 'health'], noServer: true, normalize: health },
  { args: ['--endpoints=127.0.0.1:1', '--command-timeout=1s', 'endpoint', 'health', '--cluster'], noServer: true },
  { args: ['--endpoints=127.0.0.1:1', '--command-timeout=1s', 'move-leader', '1'], noServer: true },
];

let plain: RealEtcd | undefined;
let twins: [RealEtcd, RealEtcd] | undefined;
let full: [RealEtcd, RealEtcd] | undefined;

before(async () => {
  [plain, twins, full] = await Promise.all([
    startComparedEtcd(),
    startTwinEtcds(),
    startTwinEtcds({ extraArgs: ['--quota-backend-bytes=65536'] }),
  ]);
});

after(async () => {
  await stopAll(plain, ...(twins ?? []), ...(full ?? []));
});

/** Runs cases concurrently in batches (each spawns two processes). */
async function runCases(cases: Case[], batch = 6): Promise<void> {
  for (let i = 0; i < cases.length; i += batch) {
    await Promise.all(
      cases.slice(i, i + batch).map((c) =>
        compareCli(c.args, { server: plain, endpoints: !c.noServer, stderr: c.stderr, normalize: c.normalize }),
      ),
    );
  }
}

describe('maintenance commands vs etcdctl 3.4.23', () => {
  test('help texts', { skip: skipInServe(CLI_ONLY) }, () => runCases(HELP, 16));
  test('endpoint status in every format', () => runCases(STATUS, 16));
  test('read-only commands in every format, argument and server errors', () => runCases(READ_ONLY));
  test('unreachable endpoints', { skip: skipInServe(CLI_ONLY) }, () => runCases(UNREACHABLE));

  test('mixed good and bad endpoints keep the input order', async () => {
    const ep = ENDPOINT_PLACEHOLDER; // each side's server
    await runCases([
      { args: [`--endpoints=127.0.0.1:1,${ep}`, '--command-timeout=1s', 'endpoint', 'status'], stderr: 'nonLog', noServer: true, normalize: SERVE ? composeNormalizers(status, normalizeIndexes) : status },
      { args: [`--endpoints=${ep},127.0.0.1:1`, '--command-timeout=1s', '-w', 'table', 'endpoint', 'hashkv'], stderr: 'nonLog', noServer: true },
      { args: [`--endpoints=127.0.0.1:1,${ep}`, '--command-timeout=1s', 'move-leader', '1'], noServer: true },
      // serve mode: the servers of this pair also ran the read-only cases, whose `--cluster`
      // variants are skipped against ours; raft indexes are compared in the status tests
      { args: [`--endpoints=${ep},${ep}`, 'endpoint', 'status', '-w', 'json'], noServer: true, normalize: SERVE ? composeNormalizers(status, normalizeIndexes) : status },
    ]);
  });

  test('alarm list -w fields: 3.4 crashes on the nil header, we print zeros (documented difference)', { skip: skipInServe(CLI_ONLY) }, async () => {
    const real = await runCli('/usr/bin/etcdctl', [`--endpoints=${plain!.endpoint}`, '-w', 'fields', 'alarm', 'list']);
    assert.equal(real.code, 2); // Go panic
    const ours = await runCli(OURS, [`--endpoints=${plain!.endpoint}`, '-w', 'fields', 'alarm', 'list']);
    assert.equal(ours.code, 0);
    assert.equal(ours.stdout.toString(), '"ClusterID" : 0\n"MemberID" : 0\n"Revision" : 0\n"RaftTerm" : 0\n');
  });

  test('NOSPACE alarm: list, status (wrapped table cell), health, disarm', async () => {
    // The number of puts that fit differs between twins (bbolt growth), so fill both first.
    const big = 'v'.repeat(30000);
    await Promise.all(
      full!.map(async (srv) => {
        for (let i = 0; i < 20; i++) {
          const r = await runCli('/usr/bin/etcdctl', [`--endpoints=${srv.endpoint}`, 'put', `big${i}`, big]);
          if (r.code !== 0) return;
        }
        throw new Error('NOSPACE alarm not raised');
      }),
    );
    const steps: ScenarioStep[] = [
      ...FORMATS.filter((w) => w !== 'fields').map((w): ScenarioStep => ({ args: ['-w', w, 'alarm', 'list'] })),
      ...FORMATS.map((w): ScenarioStep => ({ args: ['-w', w, 'endpoint', 'status'] })),
      { args: ['-w', 'json', 'alarm', 'disarm'] },
      { args: ['alarm', 'list'] },
      { args: ['alarm', 'disarm'] },
      { args: ['-w', 'protobuf', 'alarm', 'disarm'] },
      { args: ['alarm', 'list'] },
      { args: ['defrag'] },
    ];
    await runScenario(steps, { servers: full!, normalize: composeNormalizers(normalizeEndpoint, normalizeDbSize, normalizeIndexes, squeezeTable) });
  });

  // Deliberate difference (the issue asks for 3.5+ behaviour): with an active alarm,
  // `endpoint health` reports the member unhealthy; etcdctl 3.4 calls it healthy.
  // (serve mode: against our server, full[1], which must raise NOSPACE as etcd does)
  test('NOSPACE alarm makes endpoint health unhealthy, as etcdctl 3.5+', async () => {
    const srv = SERVE ? full![1]! : full![0]!;
    const big = 'v'.repeat(30000);
    for (let i = 0; i < 20; i++) {
      const r = await runCli('/usr/bin/etcdctl', [`--endpoints=${srv.endpoint}`, 'put', `nospace${i}`, big]);
      if (r.code !== 0) break;
    }
    const real = await runCli('/usr/bin/etcdctl', [`--endpoints=${srv.endpoint}`, '-w', 'json', 'endpoint', 'health']);
    assert.equal(real.code, 0, 'etcdctl 3.4 ignores alarms');
    const ours = await runCli(OURS, [`--endpoints=${srv.endpoint}`, '-w', 'json', 'endpoint', 'health']);
    assert.equal(ours.code, 1);
    assert.equal(errorLine(ours.stderr), 'Error: unhealthy cluster');
    assert.match(ours.stdout.toString(), /^\[\{"endpoint":"[^"]+","health":false,"took":"[^"]+","error":"Active Alarm\(s\): NOSPACE "\}\]\n$/);
    const simple = await runCli(OURS, [`--endpoints=${srv.endpoint}`, 'endpoint', 'health']);
    assert.match(simple.stderr, / is unhealthy: failed to commit proposal: Active Alarm\(s\): NOSPACE \n/);
    await runCli(OURS, [`--endpoints=${srv.endpoint}`, 'alarm', 'disarm']);
  });

  test('member add / update / promote / remove on a single-member cluster', async () => {
    const steps: ScenarioStep[] = [
      { args: ['member', 'add', 'learner1', '--peer-urls=http://127.0.0.1:2', '--learner'] },
      // -w json/protobuf/fields member list are compared on the plain server (member order here is random)
      ...['simple', 'table'].map((w): ScenarioStep => ({ args: ['-w', w, 'member', 'list'] })),
      // the learner is not started, so it cannot be promoted
      { args: (ctx) => ['member', 'promote', newId(ctx.results[0]!.stdout.toString())] },
      { args: (ctx) => ['member', 'update', newId(ctx.results[0]!.stdout.toString()), '--peer-urls=http://127.0.0.1:3,http://127.0.0.1:4'] },
      { args: ['member', 'list'] },
      { args: (ctx) => ['-w', 'json', 'member', 'update', newId(ctx.results[0]!.stdout.toString()), '--peer-urls=http://127.0.0.1:5'], normalize: () => '' }, // member order is random: exit code only
      { args: (ctx) => ['-w', 'fields', 'member', 'update', newId(ctx.results[0]!.stdout.toString()), '--peer-urls=http://127.0.0.1:6'] },
      { args: ['member', 'add', 'dup', '--peer-urls=http://127.0.0.1:6'] },
      { args: (ctx) => ['member', 'remove', newId(ctx.results[0]!.stdout.toString())] },
      { args: ['-w', 'json', 'member', 'add', 'l2', '--peer-urls=http://127.0.0.1:7', '--learner'], normalize: () => '' }, // member order is random: exit code only
      { args: ['-w', 'fields', 'member', 'add', 'l3', '--peer-urls=http://127.0.0.1:8', '--learner'] },
      { args: ['member', 'list', '-w', 'table'] },
      // a voting member added to a one-member cluster makes it lose quorum; do it last
      { args: ['member', 'add', 'voter', '--peer-urls=http://127.0.0.1:9'] },
    ];
    await runScenario(steps, { servers: twins!, normalize: composeNormalizers(normalizeEndpoint, normalizeNewIds, squeezeTable, sortMembers) });
  });
});

/** The member ID from `Member <id> added to cluster <cid>`. */
function newId(out: string): string {
  const m = /Member +([0-9a-f]+) added/.exec(out);
  if (!m) throw new Error(`no member ID in ${JSON.stringify(out)}`);
  return m[1]!;
}
