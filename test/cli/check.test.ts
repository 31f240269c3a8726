// `etcdctl check perf` and `etcdctl check datascale` against the real etcdctl 3.4.23:
// help texts, flag errors, unknown load models (exit 4) and keys already under the
// prefix (exit 3) compared live; `check datascale --load=s` with --auto-compact and
// --auto-defrag compared as a scenario on twin servers (progress bar and memory figure
// normalized). A real `check perf` always takes 60 s, too long for the suite: ours runs
// with ETCDTS_CHECK_DURATION_MS (test-only) and its output format, exit code and the
// removal of its keys are checked; the 60 s run was compared by hand.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startComparedEtcd, startEtcd, startTwinEtcds, stopAll, type RealEtcd } from '../harness/etcd.js';
import {
  bytesToText,
  compareCli,
  composeNormalizers,
  normalizeEndpoint,
  OURS,
  runCli,
  runScenario,
  seedCli,
  type Normalizer,
  type StderrMode,
} from '../harness/run.js';
import { CLI_ONLY, SERVE, skipInServe } from '../harness/target.js';

interface Case {
  args: string[];
  stderr?: StderrMode;
  /** prepend the server's --endpoints */
  server?: boolean;
}

const OFFLINE: Case[] = [
  { args: ['check'] },
  { args: ['check', '--help'] },
  { args: ['check', 'foo'] },
  { args: ['check', 'perf', '--help'] },
  { args: ['check', 'datascale', '--help'] },
  { args: ['help', 'check', 'perf'] },
  { args: ['check', 'perf', '--bogus'], stderr: 'full' },
  { args: ['check', 'perf', '--load'], stderr: 'full' },
  { args: ['check', 'perf', '--auto-compact=x'], stderr: 'full' },
  { args: ['check', 'datascale', '--auto-defrag=maybe'], stderr: 'full' },
  // unknown models fail before connecting (exit 4)
  { args: ['check', 'perf', '--load=x'], stderr: 'full' },
  { args: ['check', 'perf', '--load='], stderr: 'full' },
  { args: ['check', 'perf', '--load=XL'], stderr: 'full' },
  { args: ['check', 'datascale', '--load=zz'], stderr: 'full' },
  { args: ['check', 'datascale', '--load', 'huge', '--prefix=/p/'], stderr: 'full' },
];

/** Against a server that holds keys under the prefixes: exit 3 before any load. */
const PREFIX_HAS_KEYS: Case[] = [
  { args: ['check', 'perf'], server: true },
  { args: ['check', 'perf', '--load=medium'], server: true },
  { args: ['check', 'perf', '--prefix=/mine/'], server: true },
  { args: ['check', 'perf', '--prefix='], server: true },
  { args: ['check', 'datascale'], server: true },
  { args: ['check', 'datascale', '--prefix=/mine/', '--load=xLarge'], server: true },
  { args: ['check', 'datascale', '--prefix', 'a"b'], server: true },
];

let server: RealEtcd;
let twins: [RealEtcd, RealEtcd];
let perfServer: RealEtcd;

before(async () => {
  // perfServer: in serve mode our server, so the shortened `check perf` runs (with our
  // etcdctl) against it
  [server, twins, perfServer] = await Promise.all([
    startComparedEtcd({ name: 'check' }),
    startTwinEtcds(),
    startEtcd({ name: 'perf', serverKind: SERVE ? 'ours' : 'real' }),
  ]);
  for (const k of ['/etcdctl-check-perf/k', '/etcdctl-check-datascale/k', '/mine/k', 'a"b']) await seedCli(server, ['put', k, 'v']);
});

after(async () => {
  await stopAll(server, ...(twins ?? []), perfServer);
});

async function runAll(cases: Case[]): Promise<void> {
  for (let i = 0; i < cases.length; i += 4) {
    await Promise.all(
      cases.slice(i, i + 4).map((c) => compareCli(c.args, { server, endpoints: c.server === true, stderr: c.stderr ?? 'errorLine' })),
    );
  }
}

describe('check: help and argument errors', () => {
  test('as real etcdctl', { skip: skipInServe(CLI_ONLY) }, async () => {
    await runAll(OFFLINE);
  });
  test('keys under the prefix: exit 3', async () => {
    await runAll(PREFIX_HAS_KEYS);
  });
});

/**
 * The progress bar's redraws: `\r N / T `, the bar itself when a terminal width is known,
 * the percentage and the time left (`00m02s`) or, when finished, the elapsed time (`3s`).
 * (etcdctl may print its verdict right after an unfinished bar, on the same line.)
 */
const barless = (t: string): string =>
  t.replace(/\r \d+ \/ (?:\d+|\?) (?:B[om ]*!)? *\d+\.\d\d%(?: (?:\d+d)?(?:\d+h)?\d\dm\d\ds| (?:\d+h)?(?:\d+m)?\d+s)? */g, '');
const stripBar: Normalizer = (t) => barless(t);

describe('check datascale', () => {
  test('--load=s --auto-compact --auto-defrag as real etcdctl (twin servers)', async () => {
    const prefix = '/etcdctl-check-datascale/';
    await runScenario(
      [
        { args: ['check', 'datascale', '--auto-compact', '--auto-defrag'], timeoutMs: 120_000 },
        { args: ['get', '--prefix', prefix, '--keys-only'] },
        { args: ['get', 'x', '-w', 'fields'] },
      ],
      {
        servers: twins,
        normalize: composeNormalizers(stripBar, normalizeEndpoint, (t) => t.replace(/(memory used : )-?\d+\.\d\d MB/, '$1<N> MB')),
      },
    );
  });
});

const PERF_LINES = [
  /^(PASS: Throughput is \d+ writes\/s|FAIL: Throughput too low: \d+ writes\/s)$/,
  /^(PASS: Slowest request took \d+\.\d{6}s|Slowest request took too long: \d+\.\d{6}s)$/,
  /^(PASS: Stddev is \d+\.\d{6}s|Stddev too high: \d+\.\d{6}s)$/,
  /^(PASS|FAIL)$/,
];

describe('check perf (ours, shortened)', () => {
  test('--load=s for 3 s: bar, verdict lines, keys removed', async () => {
    const r = await runCli(OURS, [`--endpoints=${perfServer.endpoint}`, 'check', 'perf', '--load=s'], {
      env: { ETCDTS_CHECK_DURATION_MS: '3000' },
      timeoutMs: 60_000,
    });
    const out = bytesToText(r.stdout);
    assert.equal(r.stderr, '');
    // the bar counts seconds: " 0 / 3    0.00%" first, redrawn with \r
    assert.match(out, /^\r 0 \/ 3 {4}0\.00%/);
    const lines = barless(out).split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 4, JSON.stringify(out) + r.stderr);
    lines.forEach((l, i) => assert.match(l, PERF_LINES[i]!));
    assert.equal(r.code, lines[3] === 'PASS' ? 0 : 1);
    assert.ok(!out.includes('FAIL: too many errors'), out);
    const rps = Number(/(\d+) writes\/s/.exec(lines[0]!)![1]);
    assert.ok(rps > 50 && rps <= 160, `throughput ${rps} writes/s should be near the 150/s target`);
    const left = await runCli(OURS, [`--endpoints=${perfServer.endpoint}`, 'get', '--prefix', '/etcdctl-check-perf/', '--keys-only']);
    assert.equal(bytesToText(left.stdout), '');
  });

  test('--auto-compact --auto-defrag with a custom prefix', async () => {
    const r = await runCli(
      OURS,
      [`--endpoints=${perfServer.endpoint},${perfServer.endpoint}`, 'check', 'perf', '--prefix=/perf2/', '--auto-compact', '--auto-defrag'],
      { env: { ETCDTS_CHECK_DURATION_MS: '1500' }, timeoutMs: 60_000 },
    );
    const lines = barless(bytesToText(r.stdout)).split('\n').filter((l) => l !== '');
    const ep = JSON.stringify(perfServer.endpoint);
    assert.match(lines[0]!, /^Compacting with revision \d+$/);
    assert.equal(lines[1], lines[0]!.replace('Compacting', 'Compacted'));
    assert.deepEqual(lines.slice(2, 6), [`Defragmenting ${ep}`, `Defragmented ${ep}`, `Defragmenting ${ep}`, `Defragmented ${ep}`]);
    lines.slice(6).forEach((l, i) => assert.match(l, PERF_LINES[i]!));
    // the compaction revision is the one of the delete: the current revision
    const st = await runCli(OURS, [`--endpoints=${perfServer.endpoint}`, 'get', 'nothing', '-w', 'fields']);
    const rev = /"Revision" : (\d+)/.exec(bytesToText(st.stdout))![1];
    assert.equal(lines[0], `Compacting with revision ${rev}`);
    const left = await runCli(OURS, [`--endpoints=${perfServer.endpoint}`, 'get', '--prefix', '/perf2/', '--keys-only']);
    assert.equal(bytesToText(left.stdout), '');
  });
});
