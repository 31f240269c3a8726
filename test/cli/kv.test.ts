// Key-value commands `get`, `put`, `del` and `compaction`, compared live with the real
// etcdctl 3.4.23 (txn has its own file, txn.test.ts).
//
// - Read-only cases (every get flag and format, all argument and server errors that do
//   not change the store, help and usage texts) run with compareCli: both binaries
//   against one server seeded by the real etcdctl, compared on stdout bytes, the last
//   `Error:` line and the exit code.
// - Mutating sequences (put/del in every format, leases, stdin values, range deletes,
//   compaction and reads of compacted revisions) run with runScenario on twin servers.
// - `del` has the `--range` flag of etcdctl 3.5.6+ (a no-op here, as 3.4 never delays a
//   range delete); its one help line is the only text removed before comparing
//   (withoutRangeFlag), everywhere else `del` must match 3.4.23 exactly.

import { after, before, describe, test } from 'node:test';
import { startComparedEtcd, startTwinEtcds, stopAll, type RealEtcd } from '../harness/etcd.js';
import {
  compareCli,
  normalizeLeaseIds,
  runScenario,
  seedCli,
  type Normalizer,
  type ScenarioStep,
} from '../harness/run.js';
import { grantLeaseWithId } from '../harness/seed.js';
import { CLI_ONLY, skipInServe } from '../harness/target.js';

/** Removes the help line of `del --range` (etcdctl 3.5.6+), absent from 3.4.23's help. */
const withoutRangeFlag: Normalizer = (text) => text.replace(/^ {6}--range\[=false\]\t+delete range of keys\n/m, '');

interface Case {
  args: string[];
  stdin?: string | Buffer;
  normalize?: Normalizer;
}

const FORMATS = ['simple', 'json', 'fields', 'protobuf'] as const;

/** The lease of the seeded key `leased` (granted with this ID on every server). */
const SEED_LEASE = 0x3e8a5ee5c0ffee01n;

/** `args` in every output format that supports key-value responses, plus `--hex`. */
function everyFormat(args: string[]): Case[] {
  return [...FORMATS.map((f) => ({ args: ['-w', f, ...args] })), { args: ['--hex', ...args] }];
}

/** Written to the read-only server by the real etcdctl before the cases run. */
const SEED: Array<{ args: string[]; stdin?: string }> = [
  { args: ['put', 'a', '1'] },
  { args: ['put', 'b', '2'] },
  { args: ['put', 'c', '3'] },
  { args: ['put', 'a', '11'] },
  { args: ['put', 'key with space', 'value with space'] },
  { args: ['put', 'ü/ключ', 'значение ✓'] },
  { args: ['put', 'nl\nkey', 'line1\nline2'] },
  { args: ['put', '--', 'ctl\t"q\\', '\x01\x7f\u00a0\u200b-'] },
  // binary key and value (not valid UTF-8), through txn's Go-quoted strings
  { args: ['txn'], stdin: '\nput "bin\\x00\\xff" "\\xfe\\x00\\xc3\\x28"\n\n\n' },
  { args: ['put', 'stdinval'], stdin: 'from stdin\n' },
  { args: ['put', 'pfx/1', 'x'] },
  { args: ['put', 'pfx/2', 'y'] },
  { args: ['put', 'pfx/3', 'z'] },
  { args: ['put', 'zz', ''] },
];

const GET_CASES: Case[] = [
  // every seeded key (spaces, newlines, non-ASCII, control and binary bytes, a lease)
  ...everyFormat(['get', '--prefix', '']),
  ...['json', 'fields', 'protobuf'].map((f) => ({ args: ['-w', f, 'get', 'missing'] })),
  { args: ['-w', 'json', 'get', '--rev=3', '--keys-only', '--prefix', ''] },
  { args: ['-w', 'fields', 'get', '--from-key', 'b', '--limit', '3'] },
  { args: ['-w', 'protobuf', 'get', 'a', 'c'] },
  { args: ['get', '--print-value-only', '--prefix', 'pfx'] },
  { args: ['--hex', 'get', '--print-value-only', 'a'] },
  { args: ['get', '--keys-only', '--print-value-only', '--prefix', 'pfx'] },
  // sorting: every target (case-insensitive), both orders
  ...['CREATE', 'KEY', 'MODIFY', 'VALUE', 'VERSION', 'version'].map((t) => ({ args: ['get', '--prefix', '', `--sort-by=${t}`, '--order=DESCEND'] })),
  { args: ['get', '--prefix', '', '--sort-by=VALUE'] },
  { args: ['get', '--prefix', '', '--sort-by=create', '--order', 'ascend'] },
  { args: ['get', '--prefix', '', '--order=descend', '--limit=4'] },
  { args: ['get', '--from-key', '', '--order=ASCEND', '--keys-only', '--hex'] },
  // other flags and argument forms
  { args: ['get', '--consistency=s', '--prefix', 'pfx', '--consistency', 'l'] },
  { args: ['get', '--consistency=s', 'a'] },
  { args: ['get', '--limit=-1', '--rev=-1', '--prefix', 'pfx'] },
  { args: ['get', '--limit', '0x2', '--prefix', ''] },
  { args: ['get', '--rev=1', 'a'] },
  { args: ['get', 'a', 'b', 'c'] },
  { args: ['get', '', 'b'] },
  { args: ['ge', 'ü/ключ'] },
  // errors
  { args: ['get'] },
  { args: ['get', '--bogus', 'a'] },
  { args: ['get', '--prefix', '--from-key', 'a'] },
  { args: ['get', '--prefix', 'a', 'b'] },
  { args: ['get', '--from-key', 'a', 'b'] },
  { args: ['get', '--sort-by=size', 'a'] },
  { args: ['get', '--order=up', 'a'] },
  { args: ['get', '--consistency=x', 'a'] },
  { args: ['get', '--limit=x', 'a'] },
  { args: ['get', '--rev=100000', 'a'] },
  { args: ['-w', 'table', 'get', 'a'] },
  { args: ['-w', 'bogus', 'get', 'a'] },
  { args: ['-w', 'json', 'get', '--print-value-only', 'a'] },
  { args: ['getx', 'a'] },
];

/** A value just over the server's 1.5 MiB request limit, and one over the client's 2 MiB. */
const OVER_SERVER_LIMIT = Buffer.alloc(1_600_000, 'x');
const OVER_CLIENT_LIMIT = Buffer.alloc(2_200_000, 'y');

/** put / del / compaction cases that fail without changing the store. */
const ERROR_CASES: Case[] = [
  { args: ['put'] },
  { args: ['put', 'k'] },
  { args: ['put', 'k'], stdin: '' },
  { args: ['put', 'k', '-v'] },
  { args: ['put', '--bogus', 'k', 'v'] },
  { args: ['put', '--ignore-value', 'k', 'v'] },
  { args: ['put', '--ignore-value', 'missing'] },
  { args: ['put', '--ignore-lease', 'missing', 'v'] },
  { args: ['put', '--lease=zz', 'k', 'v'] },
  { args: ['put', '--lease=0x10', 'k', 'v'] },
  { args: ['put', '--lease=ffffffffffffffffff', 'k', 'v'] },
  { args: ['put', '', 'v'] },
  { args: ['put', 'big'], stdin: OVER_SERVER_LIMIT },
  { args: ['put', 'big'], stdin: OVER_CLIENT_LIMIT },
  { args: ['-w', 'bogus', 'put', 'k', 'v'] },
  { args: ['del'] },
  { args: ['del', 'a', 'b', 'c'] },
  { args: ['del', '--prefix', '--from-key', 'a'] },
  { args: ['del', '--prefix', 'a', 'b'] },
  { args: ['del', '--from-key', 'a', 'b'] },
  { args: ['del', ''] },
  { args: ['del', '--bogus', 'a'], normalize: withoutRangeFlag },
  { args: ['-w', 'bogus', 'del', 'a'] },
  { args: ['del', 'missing'] },
  ...['json', 'fields', 'protobuf'].map((f) => ({ args: ['-w', f, 'del', '--prev-kv', 'missing', 'missinh'] })),
  { args: ['-w', 'table', 'del', 'missing'] },
  { args: ['compaction'] },
  { args: ['compaction', '1', '2'] },
  { args: ['compaction', 'abc'] },
  { args: ['compaction', '1.5'] },
  { args: ['compaction', '99999999999999999999'] },
  { args: ['compaction', '100000'] },
  { args: ['compaction', '--bogus', '1'] },
  { args: ['-w', 'bogus', 'compaction', 'abc'] },
];

const HELP_CASES: Case[] = [
  { args: ['get', '--help'] },
  { args: ['put', '--help'] },
  { args: ['del', '--help'], normalize: withoutRangeFlag },
  { args: ['txn', '--help'] },
  { args: ['compaction', '--help'] },
  { args: ['help', 'del'], normalize: withoutRangeFlag },
  { args: ['help', 'compaction'] },
  { args: ['txn', '--bogus'] },
  { args: ['compaction', '-x'] },
];

/** A txn putting `keys` (value `v-<key>`) in one revision. */
function putAll(keys: string[]): ScenarioStep {
  return { args: ['txn'], stdin: `\n${keys.map((k) => `put ${k} v-${k}\n`).join('')}\n\n` };
}

/** Mutating sequence (twin servers): put in every format, stdin values, leases. */
const PUT_SCENARIO: ScenarioStep[] = [
  { args: ['put', 'k', 'v1'] },
  { args: ['-w', 'json', 'put', 'k', 'v2'] },
  { args: ['-w', 'fields', 'put', 'k', 'v3'] },
  { args: ['-w', 'protobuf', 'put', 'k', 'v4'] },
  { args: ['-w', 'table', 'put', 'k', 'v5'] },
  { args: ['put', '--prev-kv', 'k', 'v6'] },
  { args: ['-w', 'json', 'put', '--prev-kv', 'k', 'v7'] },
  { args: ['-w', 'fields', 'put', '--prev-kv', 'k', 'v8'] },
  { args: ['-w', 'protobuf', 'put', '--prev-kv', 'k', 'v9'] },
  { args: ['--hex', 'put', '--prev-kv', 'k', 'v\x01ü'] },
  { args: ['put', '--prev-kv', 'fresh', 'v'] },
  // values from stdin keep all their bytes, trailing newline included
  { args: ['put', 'stdin'], stdin: 'line\n' },
  { args: ['put', 'stdin-bin'], stdin: Buffer.from([0x00, 0xff, 0x0a, 0xc3, 0x28, 0x0a]) },
  { args: ['get', '--prefix', 'stdin'] },
  { args: ['-w', 'fields', 'get', '--prefix', 'stdin'] },
  { args: ['-w', 'json', 'get', '--prefix', 'stdin'] },
  { args: ['--hex', 'get', '--prefix', 'stdin'] },
  // keys and values starting with '-'
  { args: ['put', 'dash', '--', '-v'] },
  { args: ['put', '--', '-dashkey', '-v'] },
  { args: ['get', '--prefix', '--', '-dash'] },
  // leases, --ignore-lease, --ignore-value
  { args: ['lease', 'grant', '1000'] },
  { args: ['put', '--lease={{lease1}}', 'leased', 'v'] },
  { args: ['-w', 'json', 'get', 'leased'] },
  { args: ['put', '--ignore-lease', 'leased', 'v2'] },
  { args: ['put', '--ignore-value', 'leased'] },
  { args: ['-w', 'json', 'put', '--ignore-value', '--prev-kv', 'leased'] },
  { args: ['put', '--ignore-value', '--ignore-lease', 'leased'] },
  { args: ['put', '--ignore-lease', '--lease={{lease1}}', 'leased', 'v3'] },
  { args: ['-w', 'fields', 'get', 'leased'] },
  { args: ['put', 'leased', 'nolease'] },
  { args: ['-w', 'fields', 'get', 'leased'] },
];

/**
 * Mutating sequence (twin servers): del in every format, ranges, compaction. Revisions:
 * 1 at start, 2 after the first txn, then one per successful del/txn step (3..13).
 */
const DEL_SCENARIO: ScenarioStep[] = [
  putAll(['d1', 'd2', 'd3', 'd4', 'd5', 'd6']),
  { args: ['del', 'd1'] },
  { args: ['-w', 'json', 'del', '--prev-kv', 'd2'] },
  { args: ['-w', 'fields', 'del', '--prev-kv', 'd3'] },
  { args: ['-w', 'protobuf', 'del', '--prev-kv', 'd4'] },
  { args: ['--hex', 'del', '--prev-kv', 'd5'] },
  { args: ['-w', 'table', 'del', 'd6'] },
  putAll(['r/a', 'r/b', 'r/c', 'r/d', 'r0', 's/1', 's/2', 'u1', 'u2']),
  { args: ['del', '--prev-kv', 'r/a', 'r/c'] },
  { args: ['del', '--prefix', 'r/'] },
  // `--range` (3.5.6+) only for ours: it must do exactly what 3.4's plain range delete does
  { args: (ctx) => ['del', ...(ctx.cli === 'ours' ? ['--range'] : []), 's/1', 's/3'] },
  { args: ['-w', 'json', 'del', '--prev-kv', '--from-key', 'u'] },
  { args: ['get', '--from-key', ''] },
  { args: ['compaction', '3'] },
  { args: ['get', '--rev=1', 'd1'] },
  { args: ['get', '--rev=2', 'd1'] },
  { args: ['get', '--rev=3', '--prefix', 'd'] },
  { args: ['compaction', '3'] },
  { args: ['compaction', '2'] },
  { args: ['-w', 'json', 'compaction', '--physical', '5'] },
  { args: ['-w', 'table', 'compaction', '6'] },
  { args: ['-w', 'protobuf', 'get', '--rev=6', '--prefix', 'd'] },
  { args: ['-w', 'fields', 'del', '--prefix', ''] },
  { args: ['-w', 'json', 'get', '--from-key', ''] },
];

describe('kv commands equal etcdctl 3.4.23', { concurrency: true }, () => {
  let single: RealEtcd | undefined;
  let twins: [RealEtcd, RealEtcd] | undefined;
  let twins2: [RealEtcd, RealEtcd] | undefined;

  before(async () => {
    [single, twins, twins2] = await Promise.all([startComparedEtcd(), startTwinEtcds(), startTwinEtcds()]);
    for (const s of SEED) await seedCli(single, s.args, { stdin: s.stdin });
    // a key attached to a lease with a chosen ID, the same on every server (outputs
    // show it, -w protobuf as a varint no normalizer could rewrite)
    await grantLeaseWithId(single, SEED_LEASE, 1000n);
    await seedCli(single, ['put', `--lease=${SEED_LEASE.toString(16)}`, 'leased', 'lv']);
  });

  after(() => stopAll(single, ...(twins ?? []), ...(twins2 ?? [])));

  const label = (c: Case) => JSON.stringify(c.args).slice(0, 150) + (c.stdin !== undefined ? ` <stdin ${c.stdin.length} bytes>` : '');

  describe('get (read-only, one server)', { concurrency: 4 }, () => {
    for (const c of GET_CASES) {
      test(label(c), () => compareCli(c.args, { server: single, stdin: c.stdin, normalize: c.normalize }).then(() => {}));
    }
  });

  describe('put / del / compaction errors (store unchanged)', { concurrency: 4 }, () => {
    for (const c of ERROR_CASES) {
      test(label(c), () => compareCli(c.args, { server: single, stdin: c.stdin, normalize: c.normalize }).then(() => {}));
    }
  });

  describe('help and usage', { concurrency: 4, skip: skipInServe(CLI_ONLY) }, () => {
    for (const c of HELP_CASES) {
      test(label(c), () => compareCli(c.args, { server: single, normalize: c.normalize }).then(() => {}));
    }
  });

  test('put scenario on twin servers', { timeout: 120_000 }, async () => {
    await runScenario(PUT_SCENARIO, { servers: twins!, normalize: normalizeLeaseIds });
  });

  test('del and compaction scenario on twin servers', { timeout: 120_000 }, async () => {
    await runScenario(DEL_SCENARIO, { servers: twins2! });
  });
});
