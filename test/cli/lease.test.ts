// `etcdctl lease ...` (grant, revoke, timetolive, list, keep-alive), compared live with
// the real etcdctl 3.4.23.
//
// - Mutating sequences run with runScenario on twin servers: real etcdctl against server
//   A, ours against server B, compared step by step (stdout bytes, last `Error:` line,
//   exit code).
// - Lease IDs are time based, so they differ between the twins: normalizeLeaseIds maps
//   them to <LEASEn> in order of first appearance (hex `%016x` in simple output, decimal
//   in json/fields). `-w protobuf` prints only the ResponseHeader bytes for lease
//   responses (clientv3's wrappers embed *pb.ResponseHeader), so protobuf output carries
//   no lease ID and is compared byte for byte without normalization; the header is
//   identical on twin servers.
// - The server lists attached keys in Go map order (random per call): sortLeaseKeys sorts
//   them in all three text formats before comparing.
// - Remaining TTLs depend on how long each side took since the grant: normalizeRemaining
//   accepts a remaining TTL down to half the granted TTL on both sides; other values
//   (notably -1 for expired leases) are compared as they are.
// - Time-dependent cases (expiry of short leases, keep-alive streams, signals, no server)
//   run both sides at the same time (runConcurrent / keepAliveCase), each against its
//   own twin, so both see the same timing.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { startTwinEtcds, stopAll, type RealEtcd } from '../harness/etcd.js';
import { getFreePort } from '../harness/ports.js';
import { CLI_ONLY, SERVE, skipInServe } from '../harness/target.js';
import {
  bytesToText,
  cleanEnv,
  compareCli,
  composeNormalizers,
  errorLine,
  learnLeaseIds,
  newRunContext,
  normalizeLeaseIds,
  REAL,
  runCli,
  runScenario,
  SUBJECT_BIN,
  withSubject,
  SIDES_LABEL,
  type Normalizer,
  type RunContext,
  type ScenarioStep,
  type ServerLike,
} from '../harness/run.js';

// ---------------------------------------------------------------------------
// Normalizers

/** Sorts attached keys (simple `attached keys([a b])`, json `"keys":[...]`, fields `"Key" :` lines). */
const sortLeaseKeys: Normalizer = (text) => {
  text = text.replace(/attached keys\(\[(.*)\]\)/g, (_m, ks: string) => `attached keys([${ks.split(' ').sort().join(' ')}])`);
  text = text.replace(/"keys":\[([^\]]*)\]/g, (_m, ks: string) => `"keys":[${ks.split(',').sort().join(',')}]`);
  const lines = text.split('\n');
  const out: string[] = [];
  let block: string[] = [];
  for (const l of lines) {
    if (l.startsWith('"Key" : ')) {
      block.push(l);
      continue;
    }
    out.push(...block.sort(), l);
    block = [];
  }
  out.push(...block.sort());
  return out.join('\n');
};

/**
 * A remaining TTL between half the granted TTL and the granted TTL minus one becomes
 * `<~G>`: it is the server's clock, not the CLI, and the sides run at different speeds
 * (ours starts slower, and a scenario runs one side after the other; on a loaded machine
 * the gap reaches many seconds). Anything else (-1 for expired leases, a TTL equal to or
 * above the granted one) is compared as it is: etcd truncates the time left
 * (int64(Remaining().Seconds())), so a lease read after its grant or renewal, with no
 * leader change in between, never shows its full TTL.
 */
function near(granted: string, remaining: string): string {
  const g = BigInt(granted);
  const d = g - BigInt(remaining);
  return d >= 1n && d <= g / 2n ? `<~${granted}>` : remaining;
}

/** Remaining TTLs of `lease timetolive` in simple, json and fields output (see near()). */
const normalizeRemaining: Normalizer = (text) =>
  text
    .replace(/granted with TTL\((\d+)s\), remaining\((-?\d+)s\)/g, (_m, g: string, r: string) => `granted with TTL(${g}s), remaining(${near(g, r)}s)`)
    .replace(/"ttl":(-?\d+),"granted-ttl":(\d+)/g, (_m, r: string, g: string) => `"ttl":${near(g, r)},"granted-ttl":${g}`)
    .replace(/"TTL" : (-?\d+)\n"GrantedTTL" : (\d+)/g, (_m, r: string, g: string) => `"TTL" : ${near(g, r)}\n"GrantedTTL" : ${g}`);

const NORMALIZE = composeNormalizers(normalizeLeaseIds, sortLeaseKeys, normalizeRemaining);

// ---------------------------------------------------------------------------
// Case data

const FORMATS = ['simple', 'json', 'fields', 'protobuf'] as const;
/** `-w <f>` for every format (simple spelled out too, to cover the flag). */
const eachFormat = (args: string[]): ScenarioStep[] => FORMATS.map((f) => ({ args: ['-w', f, ...args] }));

/** A key exercising Go's %q (fields) and raw bytes (simple): quote, backslash, tab, non-ASCII. */
const ODD_KEY = 'k"\\\tü';

/**
 * The main scenario: every subcommand, flag and format, attached keys, revoke deleting
 * keys, keep-alive --once, unknown leases and unsupported formats, in one mutating run.
 * Leases in order of first appearance: 1-3 granted in simple/json/fields, 4 granted in
 * protobuf (first seen in `lease list`), 5 granted in table format (exit 4, seen in list).
 */
const MAIN_SCENARIO: ScenarioStep[] = [
  { args: ['lease', 'list'] },
  { args: ['-w', 'json', 'lease', 'list'] },
  { args: ['lease', 'grant', '100'] },
  { args: ['-w', 'json', 'lease', 'grant', '200'] },
  { args: ['-w', 'fields', 'lease', 'grant', '300'] },
  { args: ['-w', 'protobuf', 'lease', 'grant', '400'] },
  { args: ['-w', 'table', 'lease', 'grant', '500'] },
  { args: ['lease', 'list'] },
  // attach keys
  { args: ['put', 'k1', 'v1', '--lease={{lease1}}'] },
  { args: ['put', 'k2', 'v2', '--lease={{lease1}}'] },
  { args: ['put', '--lease={{lease1}}', '--', ODD_KEY, 'v3'] },
  { args: ['put', 'k4', 'v4', '--lease={{lease2}}'] },
  { args: ['put', 'plain', 'v'] },
  // timetolive, with and without --keys, every format
  ...eachFormat(['lease', 'timetolive', '{{lease1}}', '--keys']),
  { args: ['lease', 'timetolive', '{{lease1}}'] },
  { args: ['--hex', 'lease', 'timetolive', '--keys', '{{lease1}}'] },
  { args: ['lease', 'timetolive', '--keys', '{{lease2}}'] },
  { args: ['-w', 'json', 'lease', 'timetolive', '--keys', '{{lease3}}'] },
  { args: ['-w', 'fields', 'lease', 'timetolive', '{{lease4}}', '--keys=false'] },
  { args: ['-w', 'table', 'lease', 'timetolive', '{{lease1}}'] },
  // keep-alive --once: every format; table fails after the renewal (exit 4)
  ...eachFormat(['lease', 'keep-alive', '--once', '{{lease1}}']),
  { args: ['lease', 'keep-alive', '{{lease3}}', '--once'] },
  { args: ['-w', 'table', 'lease', 'keep-alive', '--once', '{{lease2}}'] },
  // a live lease streamed in table format: the first reply is unsupported (exit 4)
  { args: ['-w', 'table', 'lease', 'keep-alive', '{{lease5}}'] },
  // renewals reorder the list (sorted by expiry)
  ...eachFormat(['lease', 'list']),
  { args: ['-w', 'table', 'lease', 'list'] },
  // revoke deletes the attached keys
  { args: ['lease', 'revoke', '{{lease1}}'] },
  { args: ['get', '', '--from-key'] },
  { args: ['-w', 'json', 'lease', 'revoke', '{{lease2}}'] },
  { args: ['get', 'k4'] },
  { args: ['-w', 'fields', 'lease', 'revoke', '{{lease3}}'] },
  // protobuf cannot marshal clientv3.LeaseRevokeResponse: the lease is revoked, exit 4
  { args: ['-w', 'protobuf', 'lease', 'revoke', '{{lease4}}'] },
  { args: ['-w', 'table', 'lease', 'revoke', '{{lease5}}'] },
  { args: ['lease', 'list'] },
  // gone leases
  { args: ['lease', 'revoke', '{{lease1}}'] },
  { args: ['-w', 'protobuf', 'lease', 'revoke', '{{lease4}}'] },
  ...eachFormat(['lease', 'timetolive', '{{lease1}}']),
  { args: ['lease', 'timetolive', '--keys', '{{lease2}}'] },
  { args: ['lease', 'keep-alive', '--once', '{{lease1}}'] },
  { args: ['-w', 'json', 'lease', 'keep-alive', '--once', '{{lease2}}'] },
  // a stream on a revoked lease: the first reply has TTL 0
  { args: ['lease', 'keep-alive', '{{lease1}}'] },
  { args: ['-w', 'json', 'lease', 'keep-alive', '{{lease1}}'] },
  { args: ['-w', 'table', 'lease', 'keep-alive', '{{lease1}}'] },
  // too large TTL (server side), the largest accepted one
  { args: ['lease', 'grant', '9000000001'] },
  { args: ['lease', 'grant', '9000000000'] },
  { args: ['-w', 'json', 'lease', 'list'] },
];

/** Argument errors and help: no server state involved, compared on one server. */
const READ_ONLY_CASES: string[][] = [
  // grant
  ['lease', 'grant'],
  ['lease', 'grant', '1', '2'],
  ['lease', 'grant', 'abc'],
  ['lease', 'grant', '0x10'],
  ['lease', 'grant', ''],
  ['lease', 'grant', '99999999999999999999'],
  ['lease', 'grant', '-5'],
  ['-w', 'json', 'lease', 'grant', '9000000001'],
  ['-w', 'xx', 'lease', 'grant', 'zz'],
  // revoke
  ['lease', 'revoke'],
  ['lease', 'revoke', 'a', 'b'],
  ['lease', 'revoke', 'zz'],
  ['lease', 'revoke', '0x12'],
  ['lease', 'revoke', ''],
  ['lease', 'revoke', '8000000000000000'],
  ['lease', 'revoke', 'abcdef12345'],
  ['-w', 'xx', 'lease', 'revoke', 'zz'],
  // timetolive: the client (and output format) come before the ID is parsed
  ['lease', 'timetolive'],
  ['lease', 'timetolive', 'a', 'b'],
  ['lease', 'timetolive', '--keys', 'zz'],
  ['-w', 'xx', 'lease', 'timetolive', 'zz'],
  ['lease', 'timetolive', '--keys', 'ABCDEF12345'],
  ['-w', 'fields', 'lease', 'timetolive', 'abcdef12345', '--keys'],
  ['lease', 'timetolive', '--keys=maybe', 'abcdef12345'],
  // list
  ['lease', 'list', 'extra', 'args'],
  ['-w', 'xx', 'lease', 'list'],
  // keep-alive
  ['lease', 'keep-alive'],
  ['lease', 'keep-alive', 'a', 'b'],
  ['lease', 'keep-alive', '--once', 'zz'],
  ['-w', 'xx', 'lease', 'keep-alive', '--once', 'abcdef12345'],
  ['-w', 'protobuf', 'lease', 'keep-alive', '--once', '0'],
  ['lease', 'keep-alive', '--once=1', 'abcdef12345'],
  ['-w', 'fields', 'lease', 'keep-alive', 'abcdef12345'],
  ['lease', 'keep-alive', '--bogus', '12'],
  // help and the group itself
  ['lease'],
  ['lease', 'foo'],
  ['lease', '--help'],
  ['help', 'lease'],
  ['lease', 'grant', '--help'],
  ['lease', 'revoke', '--help'],
  ['lease', 'timetolive', '--help'],
  ['lease', 'list', '--help'],
  ['lease', 'keep-alive', '-h', '12'],
  ['help', 'lease', 'keep-alive'],
  ['lease', 'time', '--help'],
];

// ---------------------------------------------------------------------------
// Concurrent runs (time-dependent cases)

/**
 * A step of a concurrent run: a command (with {{leaseN}} placeholders) or a pause. A
 * `setup` command runs with the real etcdctl on both sides and is not compared (used
 * where a step must follow the previous one quickly, whatever our start-up time).
 */
type TimedStep = { args: string[]; setup?: boolean; timeoutMs?: number } | { sleepMs: number };

function expand(args: string[], ctx: RunContext): string[] {
  return args.map((a) =>
    a.replace(/\{\{lease(\d+)\}\}/g, (_m, n: string) => {
      const id = ctx.leases[Number(n) - 1];
      if (id === undefined) throw new Error(`{{lease${n}}} used but only ${ctx.leases.length} lease(s) seen`);
      return id.toString(16).padStart(16, '0');
    }),
  );
}

interface Outcome {
  stdout: string;
  error: string;
  code: number | null;
  signal: string | null;
}

/** Runs `steps` with one binary against one server; returns one comparable outcome per command. */
async function runSteps(side: 'real' | 'ours', bin: string, server: ServerLike, steps: TimedStep[]): Promise<Outcome[]> {
  const ctx = newRunContext(side, server);
  const out: Outcome[] = [];
  for (const s of steps) {
    if ('sleepMs' in s) {
      await new Promise((r) => setTimeout(r, s.sleepMs));
      continue;
    }
    const r = await runCli(s.setup ? REAL : bin, [`--endpoints=${server.endpoint}`, ...expand(s.args, ctx)], { timeoutMs: s.timeoutMs });
    learnLeaseIds(bytesToText(r.stdout), ctx);
    if (s.setup) {
      assert.equal(r.code, 0, `setup step failed: ${s.args.join(' ')}\n${r.stderr}`);
      continue;
    }
    out.push({ stdout: NORMALIZE(bytesToText(r.stdout), ctx), error: NORMALIZE(errorLine(r.stderr), ctx), code: r.code, signal: r.signal });
  }
  return out;
}

/** Runs `steps` on both sides at the same time (real on servers[0], ours on servers[1]) and compares. */
async function runConcurrent(steps: TimedStep[], servers: [ServerLike, ServerLike]): Promise<Outcome[]> {
  const [real, ours] = await Promise.all([runSteps('real', REAL, servers[0], steps), runSteps('ours', SUBJECT_BIN, servers[1], steps)]);
  const cmds = steps.filter((s): s is { args: string[] } => 'args' in s && !s.setup);
  for (let i = 0; i < cmds.length; i++) {
    assert.deepStrictEqual(ours[i], real[i], `step ${i + 1}: etcdctl ${cmds[i]!.args.join(' ')} (actual = ours, expected = real)`);
  }
  return real;
}

interface KeepAliveCase {
  name: string;
  /** global flags before `lease keep-alive`, e.g. ['-w', 'json'] */
  flags: string[];
  /** TTL of the lease granted for the case */
  ttl: number;
  /** how many stdout chunks/lines to wait for before acting */
  waitLines: number;
  /**
   * revoke the lease (the stream then ends by itself), send a signal, or stop the server
   * (the client retries until the lease's TTL passed without a reply, then ends)
   */
  end: 'revoke' | 'SIGINT' | 'SIGTERM' | 'stop-server';
}

/**
 * Grants a lease, streams `lease keep-alive` on it with `bin`, waits for `waitLines` lines
 * (or, for protobuf, that many chunks of output), then revokes the lease with another
 * command or signals the stream, and returns the stream's normalized outcome. The grant
 * and the revoke use the real etcdctl on both sides (they are not under test here, and
 * its quick start keeps the revoke well before the next renewal).
 */
async function keepAliveRun(bin: string, server: ServerLike, c: KeepAliveCase, side: 'real' | 'ours'): Promise<Outcome> {
  const ctx = newRunContext(side, server);
  const g = await runCli(REAL, [`--endpoints=${server.endpoint}`, 'lease', 'grant', String(c.ttl)]);
  learnLeaseIds(bytesToText(g.stdout), ctx);
  const id = ctx.leases[0]!.toString(16).padStart(16, '0');
  const child = spawn(bin, [`--endpoints=${server.endpoint}`, ...c.flags, 'lease', 'keep-alive', id], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  let stderr = '';
  let seen = 0;
  let onEnough: () => void = () => {};
  const enough = new Promise<void>((r) => (onEnough = r));
  const binary = c.flags.includes('protobuf');
  child.stdout.on('data', (b: Buffer) => {
    chunks.push(b);
    seen += binary ? 1 : b.toString('latin1').split('\n').length - 1;
    if (seen >= c.waitLines) onEnough();
  });
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.on('close', (code, signal) => r({ code, signal })));
  const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await Promise.race([enough, exited]);
  if (c.end === 'revoke') {
    const r = await runCli(REAL, [`--endpoints=${server.endpoint}`, 'lease', 'revoke', id]);
    assert.equal(r.code, 0, r.stderr);
  } else if (c.end === 'stop-server') {
    await server.stop();
  } else {
    child.kill(c.end);
  }
  const { code, signal } = await exited;
  clearTimeout(killer);
  const stdout = bytesToText(Buffer.concat(chunks));
  return { stdout: NORMALIZE(stdout, ctx), error: errorLine(stderr), code, signal };
}

// TTL 6: a renewal every 2 s, which leaves time to act between two renewals even on a
// loaded machine, and a lease that outlives a slow start of either binary.
const KEEP_ALIVE_CASES: KeepAliveCase[] = [
  { name: 'simple: two renewals, then revoked from another command', flags: [], ttl: 6, waitLines: 2, end: 'revoke' },
  { name: 'json: one renewal, then revoked (no closing line)', flags: ['-w', 'json'], ttl: 6, waitLines: 1, end: 'revoke' },
  { name: 'fields: one renewal, then revoked', flags: ['-w', 'fields'], ttl: 6, waitLines: 6, end: 'revoke' },
  { name: 'protobuf: one renewal, then revoked', flags: ['-w', 'protobuf'], ttl: 6, waitLines: 1, end: 'revoke' },
  { name: 'hex simple: one renewal, then revoked', flags: ['--hex'], ttl: 6, waitLines: 1, end: 'revoke' },
  { name: 'SIGINT ends the stream by the signal', flags: [], ttl: 6, waitLines: 1, end: 'SIGINT' },
  { name: 'SIGTERM ends the stream by the signal', flags: ['-w', 'json'], ttl: 6, waitLines: 1, end: 'SIGTERM' },
];

// ---------------------------------------------------------------------------

// The time-dependent cases run first, on their own twins, with nothing else running in
// this file. Then these run concurrently: the read-only cases on their own
// twins (they create no lease), the main scenario on the main twins, a stream whose
// server dies (the timed twins, then stopped), and the no-server cases on a closed port.
describe('etcdctl lease (differential against real etcdctl 3.4.23)', () => {
  let main: [RealEtcd, RealEtcd];
  let timed: [RealEtcd, RealEtcd];
  // The read-only cases get their own twins, which nothing writes to: in serve mode the
  // real etcdctl runs them on the real twin and on ours; in cli mode both etcdctls run
  // them on the first twin. (On a server the main scenario writes to, the header
  // revisions and lease lists would depend on how long each etcdctl takes to start.)
  let readOnly: [RealEtcd, RealEtcd];
  before(async () => {
    [main, timed, readOnly] = await Promise.all([startTwinEtcds(), startTwinEtcds(), startTwinEtcds()]);
  });
  after(async () => {
    await stopAll(...(main ?? []), ...(timed ?? []), ...(readOnly ?? []));
  });

  describe('time-dependent: expiry of short leases, keep-alive streams, signals', () => {
    test('short leases expire: timetolive, revoke, keep-alive --once and keys after expiry', async () => {
      const out = await runConcurrent(
        [
          { args: ['lease', 'grant', '0'] },
          { args: ['put', 'ek1', 'v', '--lease={{lease1}}'], setup: true },
          { args: ['lease', 'grant', '1'] },
          { args: ['put', 'ek2', 'v', '--lease={{lease2}}'], setup: true },
          // a negative TTL is raised to the minimum too
          { args: ['lease', 'grant', '--', '-5'] },
          { sleepMs: 3500 },
          { args: ['lease', 'timetolive', '{{lease1}}'] },
          { args: ['lease', 'timetolive', '--keys', '{{lease2}}'] },
          { args: ['-w', 'json', 'lease', 'timetolive', '--keys', '{{lease2}}'] },
          { args: ['get', '--prefix', 'ek'] },
          { args: ['lease', 'list'] },
          { args: ['lease', 'revoke', '{{lease1}}'] },
          { args: ['lease', 'keep-alive', '--once', '{{lease2}}'] },
          { args: ['lease', 'keep-alive', '{{lease3}}'] },
        ],
        timed,
      );
      assert.match(out[0]!.stdout, /granted with TTL\(2s\)/); // the server's minimum TTL
      assert.match(out[3]!.stdout, /already expired/);
      assert.equal(out[6]!.stdout, ''); // the keys went with the leases
    });

    // The streams do not list leases, so they share the twins and run together.
    test('keep-alive streams', { concurrency: true }, async (t) => {
      await Promise.all(
        KEEP_ALIVE_CASES.map((c) =>
          t.test(c.name, async () => {
            const [real, ours] = await Promise.all([keepAliveRun(REAL, timed[0], c, 'real'), keepAliveRun(SUBJECT_BIN, timed[1], c, 'ours')]);
            assert.deepStrictEqual(ours, real, SIDES_LABEL);
            if (c.end === 'revoke') assert.equal(real.code, 0);
            else assert.equal(real.signal, c.end);
            if (c.flags.length === 0 && c.end === 'revoke') {
              assert.match(real.stdout, /^(lease <LEASE1> keepalived with TTL\(6\)\n){2}lease <LEASE1> expired or revoked\.\n$/);
            }
          }),
        ),
      );
    });

  });

  describe('scenarios and errors', { concurrency: true }, () => {
    test('argument errors, unknown leases, output format errors, help (read-only)', async () => {
      const queue = [...READ_ONLY_CASES];
      const worker = async () => {
        for (let args = queue.shift(); args; args = queue.shift()) {
          await compareCli(args, { server: SERVE ? withSubject(readOnly[0], readOnly[1]) : readOnly[0], normalize: NORMALIZE });
        }
      };
      await Promise.all(Array.from({ length: 3 }, worker));
    });

    test('main scenario: grant, attach keys, timetolive, keep-alive --once, list, revoke, in every format', async () => {
      const res = await runScenario(MAIN_SCENARIO, { servers: main, normalize: NORMALIZE });
      // The scenario must really have exercised the server: spot checks on real etcdctl's output.
      const out = res.real.map((r) => r.stdout.toString('latin1'));
      assert.match(out[2]!, /^lease [0-9a-f]{16} granted with TTL\(100s\)\n$/);
      assert.equal(res.real[6]!.code, 4); // -w table lease grant
      assert.ok(out.some((o) => /attached keys\(\[.*k1.*\]\)/.test(o)));
      assert.ok(out.some((o) => / already expired\n$/.test(o)));
      assert.ok(out.some((o) => / expired or revoked\.\n$/.test(o)));
      assert.ok(res.real.some((r) => r.code === 4 && errorLine(r.stderr).startsWith('Error: marshal unsupported for type clientv3.LeaseRevokeResponse')));
    });

    // The timed twins' last use (they are idle by now): the server dies under a running stream.
    test('keep-alive stream, the server goes away: ends after the TTL without a reply', async () => {
      const c: KeepAliveCase = { name: 'stop-server', flags: [], ttl: 6, waitLines: 1, end: 'stop-server' };
      const [real, ours] = await Promise.all([keepAliveRun(REAL, timed[0], c, 'real'), keepAliveRun(SUBJECT_BIN, timed[1], c, 'ours')]);
      assert.deepStrictEqual(ours, real, SIDES_LABEL);
      assert.match(real.stdout, /^lease <LEASE1> keepalived with TTL\(6\)\nlease <LEASE1> expired or revoked\.\n$/);
    });

    test('no reachable server: keep-alive gives up after the first deadline; grant/revoke time out', { skip: skipInServe(CLI_ONLY) }, async () => {
      const port = await getFreePort();
      const down = ['--endpoints=127.0.0.1:' + port, '--dial-timeout=1s', '--command-timeout=1s'];
      const cases = [
        [...down, 'lease', 'keep-alive', 'abcdef12345'],
        [...down, '-w', 'json', 'lease', 'keep-alive', 'abcdef12345'],
        [...down, 'lease', 'grant', '5'],
        [...down, 'lease', 'revoke', 'abcdef12345'],
        [...down, 'lease', 'timetolive', 'zz'],
      ];
      const results = await Promise.all(cases.map((args) => compareCli(args, { endpoints: false, normalize: NORMALIZE, timeoutMs: 10_000 })));
      // keep-alive waited for about the dial timeout + 1 s, as clientv3 does
      const ms = results[0]!.ours.durationMs;
      assert.ok(ms >= 1500 && ms < 6000, `took ${ms} ms`);
    });
  });
});
