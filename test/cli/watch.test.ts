// `etcdctl watch`, compared live with the real etcdctl 3.4.23.
//
// A watch never ends by itself, so each case starts the real etcdctl and ours with the
// same arguments against the SAME server at the same time, waits until both have
// created their watches (the server's etcd_debugging_mvcc_watcher_total gauge), makes
// writes (with our gRPC client, in-process), waits until both printed a marker, then ends both the
// same way (SIGTERM/SIGINT, closing stdin in interactive mode, or they exit by
// themselves: exec-command failure, compacted revision, bad input) and compares stdout
// bytes, stderr (without zap log lines; capnslog timestamps normalized), exit code and
// signal. Keys carry a per-case prefix ({{p}}) so cases never see each other's writes.
//
// Cases are data (WatchCase) run by one loop. In serve mode (ETCDTS_TARGET=serve) the
// real etcdctl watches real etcd and, at the same time, the real etcdctl watches our
// server (the case server's `subject`, a twin with the same IDs); every write, compaction
// and restart is made on both servers, in the same order, so revisions and headers
// match. Without a /metrics endpoint the runner waits a fixed time for watches instead.
//
// Deliberate differences from 3.4.23, asserted separately:
// - `--progress-notify` (an etcdctl 3.5 flag): 3.4.23 rejects it; `watch --help` is
//   compared with that one line removed.
// - argify's single-quote slicing bug: where etcdctl 3.4 panics (slice out of range),
//   we strip the quotes instead.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_ADVERTISE_PEER_URL, ETCD_BIN, OUR_ETCD_BIN, startComparedEtcd, stopAll, type RealEtcd } from '../harness/etcd.js';
import { getFreePort } from '../harness/ports.js';
import { bytesToText, cleanEnv, compareCli, OURS, REAL, runCli, SIDES_LABEL, stripLogLines, SUBJECT_BIN } from '../harness/run.js';
import { CLI_ONLY, SERVE, skipInServe } from '../harness/target.js';
import { EtcdClient } from '../../src/client/client.js';
import { FROM_KEY_END, prefixEnd } from '../../src/client/range.js';

// ---------------------------------------------------------------------------
// Case data

/** What the test does while the two watchers run. Strings may contain {{p}}. */
type Step =
  /** put key value */
  | { put: [string, string] }
  /** delete key (or every key with that prefix) */
  | { del: string; prefix?: boolean }
  /** write to both watchers' stdin */
  | { stdin: string }
  /** wait until each watcher process has this many watches created on the server */
  | { created: number }
  /** wait until both stdouts contain `text` (`count` times) */
  | { until: string; count?: number }
  | { sleep: number }
  /** custom action (compaction, server restart) */
  | { fn: (s: CaseServer, p: string) => Promise<void> };

interface WatchCase {
  name: string;
  /** etcdctl arguments after --endpoints; {{p}} is the case's key prefix */
  args: string[];
  env?: Record<string, string>;
  /** steps run before the watchers start */
  setup?: Step[];
  /** steps run while the watchers run */
  steps?: Step[];
  /** how the watchers end: by themselves, by a signal, or at EOF on stdin */
  end: 'exit' | 'SIGTERM' | 'SIGINT' | 'eof';
  /** several watches print concurrently (goroutines in etcdctl): compare sorted lines */
  unordered?: boolean;
  /** endpoint instead of the server's (unreachable server) */
  endpoint?: string;
}

/** The server a case runs against (and in serve mode, our twin of it for the side under test). */
interface CaseServer {
  endpoint: string;
  clientURL: string;
  subject?: CaseServer;
}

/** The case server and, in serve mode, its subject: every server a write must reach. */
const caseServers = (s: CaseServer): CaseServer[] => (s.subject ? [s, s.subject] : [s]);

const END_SCRIPT_CHECK = `[ "$ETCD_WATCH_VALUE" != '"END"' ]`;
const SHOW_ENV = `printf '%s|%s|%s|%s\\n' "$ETCD_WATCH_REVISION" "$ETCD_WATCH_EVENT_TYPE" "$ETCD_WATCH_KEY" "$ETCD_WATCH_VALUE"; ${END_SCRIPT_CHECK}`;

/** put, overwrite, a key outside the watch, delete, then END (the marker). */
function liveKeySteps(marker = 'END'): Step[] {
  return [
    { created: 1 },
    { put: ['{{p}}k', 'v1'] },
    { put: ['{{p}}k', 'v2 with spaces'] },
    { put: ['{{p}}other', 'not watched'] },
    { del: '{{p}}k' },
    { put: ['{{p}}k', 'END'] },
    { until: marker },
  ];
}

/** history of {{p}}k written before the watch starts, replayed with --rev 1 */
const HISTORY: Step[] = [
  { put: ['{{p}}k', 'h1'] },
  { put: ['{{p}}k', 'h2'] },
  { del: '{{p}}k' },
  { put: ['{{p}}other', 'x'] },
  { put: ['{{p}}k', 'END'] },
];

const B64_END = Buffer.from('END').toString('base64');

/** Non-interactive watches with live writes and history replay (server A). */
const LIVE: WatchCase[] = [
  { name: 'single key: put, overwrite, delete', args: ['watch', '{{p}}k'], steps: liveKeySteps(), end: 'SIGTERM' },
  { name: 'single key, ended by SIGINT', args: ['watch', '{{p}}k'], steps: liveKeySteps(), end: 'SIGINT' },
  { name: '-w json', args: ['watch', '{{p}}k', '-w', 'json'], steps: liveKeySteps(B64_END), end: 'SIGTERM' },
  { name: '-w fields', args: ['watch', '{{p}}k', '-w', 'fields'], steps: liveKeySteps(), end: 'SIGTERM' },
  { name: '-w protobuf', args: ['watch', '{{p}}k', '-w', 'protobuf'], steps: liveKeySteps(), end: 'SIGTERM' },
  { name: '--prev-kv', args: ['watch', '--prev-kv', '{{p}}k'], steps: liveKeySteps(), end: 'SIGTERM' },
  { name: '--prev-kv -w json', args: ['watch', '--prev-kv', '{{p}}k', '-w', 'json'], steps: liveKeySteps(B64_END), end: 'SIGTERM' },
  { name: '--prev-kv -w fields', args: ['watch', '--prev-kv', '{{p}}k', '-w', 'fields'], steps: liveKeySteps(), end: 'SIGTERM' },
  { name: '--prev-kv -w protobuf', args: ['watch', '--prev-kv', '{{p}}k', '-w', 'protobuf'], steps: liveKeySteps(), end: 'SIGTERM' },
  { name: '--hex', args: ['watch', '--hex', '{{p}}k'], steps: liveKeySteps('\\x45\\x4e\\x44'), end: 'SIGTERM' },
  {
    name: '--prefix',
    args: ['watch', '--prefix', '{{p}}dir/'],
    steps: [
      { created: 1 },
      { put: ['{{p}}dir/a', '1'] },
      { put: ['{{p}}dir/b/c', '2'] },
      { put: ['{{p}}dira', 'outside the prefix'] },
      { put: ['{{p}}dir', 'outside the prefix'] },
      { del: '{{p}}dir/a' },
      { put: ['{{p}}dir/z', 'END'] },
      { until: 'END' },
    ],
    end: 'SIGTERM',
  },
  {
    name: 'key range [b, d)',
    args: ['watch', '{{p}}b', '{{p}}d'],
    steps: [
      { created: 1 },
      ...['a', 'b', 'bb', 'c', 'd', 'e'].map((k): Step => ({ put: [`{{p}}${k}`, k] })),
      { put: ['{{p}}c', 'END'] },
      { until: 'END' },
    ],
    end: 'SIGTERM',
  },
  {
    name: 'del --prefix: several events in one response (json)',
    args: ['watch', '--prefix', '{{p}}', '-w', 'json', '--prev-kv'],
    steps: [
      { created: 1 },
      { put: ['{{p}}a', '1'] },
      { put: ['{{p}}b', '2'] },
      { del: '{{p}}', prefix: true },
      { put: ['{{p}}z', 'END'] },
      { until: B64_END },
    ],
    end: 'SIGTERM',
  },
  {
    name: 'del --prefix: several events in one response (fields)',
    args: ['watch', '--prefix', '{{p}}', '-w', 'fields'],
    steps: [
      { created: 1 },
      { put: ['{{p}}a', '1'] },
      { put: ['{{p}}b', '2'] },
      { del: '{{p}}', prefix: true },
      { put: ['{{p}}z', 'END'] },
      { until: 'END' },
    ],
    end: 'SIGTERM',
  },
  {
    name: 'empty key with --prefix watches everything',
    args: ['watch', '--prefix', ''],
    steps: [{ created: 1 }, { put: ['{{p}}x', 'y'] }, { put: ['{{p}}z', 'END'] }, { until: 'END' }],
    end: 'SIGTERM',
  },
  {
    name: 'words after range_end are ignored (no range at all with 3 words)',
    args: ['watch', '{{p}}k', '{{p}}zz', '{{p}}extra'],
    steps: [{ created: 1 }, { put: ['{{p}}l', 'in [k, zz) but not watched'] }, { put: ['{{p}}k', 'END'] }, { until: 'END' }],
    end: 'SIGTERM',
  },
  {
    name: 'non-ASCII and control bytes in keys and values',
    args: ['watch', '--prefix', '{{p}}'],
    steps: [
      { created: 1 },
      { put: ['{{p}}ключ é', 'värde ✓ \t tab'] },
      { put: ['{{p}}nl', 'line1\nline2'] },
      { put: ['{{p}}z', 'END'] },
      { until: 'END' },
    ],
    end: 'SIGTERM',
  },
  {
    name: 'ETCDCTL_WATCH_KEY and ETCDCTL_WATCH_RANGE_END',
    args: ['watch'],
    env: { ETCDCTL_WATCH_KEY: '{{p}}b', ETCDCTL_WATCH_RANGE_END: '{{p}}d' },
    steps: [{ created: 1 }, { put: ['{{p}}a', 'no'] }, { put: ['{{p}}b', 'yes'] }, { put: ['{{p}}c', 'END'] }, { until: 'END' }],
    end: 'SIGTERM',
  },
  {
    name: 'ETCDCTL_WATCH_KEY with --prefix',
    args: ['watch', '--prefix'],
    env: { ETCDCTL_WATCH_KEY: '{{p}}' },
    steps: [{ created: 1 }, { put: ['{{p}}a', '1'] }, { put: ['{{p}}z', 'END'] }, { until: 'END' }],
    end: 'SIGTERM',
  },
  { name: '--rev 1 replays history', args: ['watch', '{{p}}k', '--rev', '1'], setup: HISTORY, steps: [{ until: 'END' }], end: 'SIGTERM' },
  {
    name: '--rev 1 --prev-kv -w json replays history in one response',
    args: ['watch', '{{p}}k', '--rev=1', '--prev-kv', '-w', 'json'],
    setup: HISTORY,
    steps: [{ until: B64_END }],
    end: 'SIGTERM',
  },
  { name: '--rev 1 -w fields', args: ['watch', '{{p}}k', '--rev', '1', '-w', 'fields'], setup: HISTORY, steps: [{ until: 'END' }], end: 'SIGTERM' },
  {
    name: '--rev 1 --prev-kv -w protobuf',
    args: ['watch', '{{p}}k', '--rev', '1', '--prev-kv', '-w', 'protobuf'],
    setup: HISTORY,
    steps: [{ until: 'END' }],
    end: 'SIGTERM',
  },
  {
    name: '--rev in the future: nothing yet',
    args: ['watch', '{{p}}k', '--rev', '100000'],
    steps: [{ created: 1 }, { put: ['{{p}}k', 'v'] }, { sleep: 300 }],
    end: 'SIGTERM',
  },
  {
    name: '-w table fails on the first event (exit 4)',
    args: ['watch', '{{p}}k', '-w', 'table'],
    steps: [{ created: 1 }, { put: ['{{p}}k', 'v'] }],
    end: 'exit',
  },
  {
    name: 'unreachable endpoint: waits forever, silently',
    args: ['watch', 'k'],
    endpoint: '127.0.0.1:1',
    steps: [{ sleep: 1500 }],
    end: 'SIGTERM',
  },
];

/** Exec command (server B). */
const EXEC: WatchCase[] = [
  {
    name: 'exec: ETCD_WATCH_* variables (Go %q quoting), ends when the command fails',
    args: ['watch', '--prefix', '{{p}}', '--', 'sh', '-c', SHOW_ENV],
    steps: [
      { created: 1 },
      { put: ['{{p}}a', 'plain'] },
      { put: ['{{p}}b c', 'with "quotes"\nnewline\ttab \\ backslash'] },
      { put: ['{{p}}é', 'ünïcödé ✓'] },
      { put: ['{{p}}ctl', '\x01\x7f'] },
      { del: '{{p}}a' },
      { put: ['{{p}}z', 'END'] },
    ],
    end: 'exit',
  },
  {
    name: 'exec: one run per event of a multi-event response, after printing it',
    args: ['watch', '--prefix', '{{p}}', '--', 'sh', '-c', SHOW_ENV],
    steps: [
      { created: 1 },
      { put: ['{{p}}a', '1'] },
      { put: ['{{p}}b', '2'] },
      { del: '{{p}}', prefix: true },
      { put: ['{{p}}z', 'END'] },
    ],
    end: 'exit',
  },
  {
    name: 'exec with --rev replay and json output',
    args: ['watch', '{{p}}k', '--rev', '1', '-w', 'json', '--', 'sh', '-c', SHOW_ENV],
    setup: HISTORY,
    end: 'exit',
  },
  {
    name: 'exec: ETCDCTL_WATCH_KEY with flags before --; the child sees ETCDCTL_* but not ETCDCTL_API',
    args: ['watch', '--prev-kv', '--', 'sh', '-c', `echo "$ETCDCTL_WATCH_KEY \${ETCDCTL_API-unset}"; ${END_SCRIPT_CHECK}`],
    env: { ETCDCTL_WATCH_KEY: '{{p}}k', ETCDCTL_API: '3' },
    steps: [{ created: 1 }, { put: ['{{p}}k', 'v'] }, { put: ['{{p}}k', 'END'] }],
    end: 'exit',
  },
  {
    name: 'exec: key range with an exec command',
    args: ['watch', '{{p}}a', '{{p}}z', '--', 'echo', 'seen'],
    steps: [{ created: 1 }, { put: ['{{p}}k', 'v'] }, { put: ['{{p}}k', 'v2'] }, { until: 'seen', count: 2 }],
    end: 'SIGTERM',
  },
  {
    name: 'exec: `watch k echo -- echo 1` watches [k, echo) (words cut at the last one equal to the command)',
    args: ['watch', '{{p}}k', 'echo', '--', 'echo', '1'],
    steps: [{ created: 1 }, { put: ['{{p}}k', 'v'] }, { put: ['{{p}}l', 'w'] }, { until: '\n1\n', count: 2 }],
    end: 'SIGTERM',
  },
  {
    name: 'exec: `watch z echo -- echo 1`: range end before the key, refused',
    args: ['watch', 'z{{p}}', 'echo', '--', 'echo', '1'],
    end: 'exit',
  },
  {
    name: 'exec: command not found',
    args: ['watch', '{{p}}k', '--', 'no-such-command-for-etcdctl-test', 'arg'],
    steps: [{ created: 1 }, { put: ['{{p}}k', 'v'] }],
    end: 'exit',
  },
  {
    name: 'exec: path that does not exist',
    args: ['watch', '{{p}}k', '--', './no/such/file'],
    steps: [{ created: 1 }, { put: ['{{p}}k', 'v'] }],
    end: 'exit',
  },
  {
    name: 'exec: command killed by a signal',
    args: ['watch', '{{p}}k', '--', 'sh', '-c', 'kill -TERM $$'],
    steps: [{ created: 1 }, { put: ['{{p}}k', 'v'] }],
    end: 'exit',
  },
];

/** Interactive mode (server D). */
const INTERACTIVE: WatchCase[] = [
  {
    name: 'interactive: one watch, progress, events',
    args: ['watch', '-i'],
    steps: [
      { stdin: 'watch {{p}}k\n' },
      { created: 1 },
      { put: ['{{p}}k', 'v1'] },
      { stdin: 'progress\n' },
      { until: 'progress notify' },
      { put: ['{{p}}k', 'END'] },
      { until: 'END' },
    ],
    end: 'eof',
  },
  {
    name: 'interactive: several watches, progress broadcast, json',
    args: ['watch', '-i', '-w', 'json'],
    steps: [
      { stdin: 'watch {{p}}a\n' },
      { stdin: 'watch --prefix {{p}}\n' },
      { stdin: 'watch --prev-kv {{p}}a {{p}}c\n' },
      { created: 3 },
      { put: ['{{p}}a', '1'] },
      { until: 'MQ==', count: 3 },
      { stdin: 'progress\n' },
      { until: 'progress notify', count: 3 },
      { put: ['{{p}}b', 'END'] },
      { until: B64_END, count: 2 },
    ],
    end: 'eof',
    unordered: true,
  },
  {
    name: 'interactive: invalid lines are reported and skipped',
    args: ['watch', '-i'],
    steps: [
      { stdin: 'bogus line\n\n   \nwatch\nprogress\n' },
      { stdin: 'watch {{p}}a {{p}}b --prefix\n' },
      { stdin: 'watch --rev 5 -- echo hi\n' },
      { stdin: 'watch {{p}}b {{p}}a\n' },
      { sleep: 700 },
    ],
    end: 'eof',
  },
  {
    name: 'interactive: command-line watch flags do not apply to lines',
    args: ['watch', '-i', '--rev', '1', '--prev-kv'],
    setup: [{ put: ['{{p}}k', 'old'] }],
    steps: [{ stdin: 'watch {{p}}k\n' }, { created: 1 }, { put: ['{{p}}k', 'END'] }, { until: 'END' }],
    end: 'eof',
  },
  {
    name: 'interactive: flags on the line, --rev replay and -w fields',
    args: ['watch', '-i', '-w', 'fields'],
    setup: HISTORY,
    steps: [{ stdin: 'watch --rev=1 --prev-kv {{p}}k\n' }, { until: 'END' }],
    end: 'eof',
  },
  {
    name: 'interactive: double-quoted words are unquoted',
    args: ['watch', '-i'],
    steps: [
      { stdin: 'watch "{{p}}sp ace\\t\\x41"\n' },
      { created: 1 },
      { put: ['{{p}}sp ace\tA', 'END'] },
      { until: 'END' },
    ],
    end: 'eof',
  },
  {
    name: "interactive: single quotes are sliced by the word count (etcdctl bug): 'xyz' with 3 words is x",
    args: ['watch', '-i'],
    steps: [
      { stdin: "watch --prefix '{{p}}q'\n" },
      { created: 1 },
      { put: ['{{p}}a', 'any key starting with the first char'] },
      { put: ['{{p}}b', 'END'] },
      { until: 'END' },
    ],
    end: 'eof',
  },
  {
    name: 'interactive: exec command on the line',
    args: ['watch', '-i'],
    steps: [
      { stdin: 'watch {{p}}k -- sh -c "echo \\"key=$ETCD_WATCH_KEY\\""\n' },
      { created: 1 },
      { put: ['{{p}}k', 'v'] },
      { until: 'key=' },
    ],
    end: 'eof',
  },
  {
    name: 'interactive: failing exec command ends the process',
    args: ['watch', '-i'],
    steps: [{ stdin: 'watch {{p}}k -- sh -c "exit 7"\n' }, { created: 1 }, { put: ['{{p}}k', 'v'] }],
    end: 'exit',
  },
  {
    name: 'interactive: ETCDCTL_WATCH_KEY, then a conflicting key (exit 128)',
    args: ['watch', '-i'],
    env: { ETCDCTL_WATCH_KEY: '{{p}}k' },
    steps: [
      { stdin: 'watch\n' },
      { created: 1 },
      { put: ['{{p}}k', 'END'] },
      { until: 'END' },
      { stdin: 'watch {{p}}other\n' },
    ],
    end: 'exit',
  },
  { name: 'interactive: `--` without command (exit 128)', args: ['watch', '-i'], steps: [{ stdin: 'watch {{p}}k --\n' }], end: 'exit' },
  { name: 'interactive: unknown flag (exit 128)', args: ['watch', '-i'], steps: [{ stdin: 'watch {{p}}k --bogus\n' }], end: 'exit' },
  { name: 'interactive: -h (exit 128)', args: ['watch', '-i'], steps: [{ stdin: 'watch {{p}}k -h\n' }], end: 'exit' },
  { name: 'interactive: bad --rev (exit 128)', args: ['watch', '-i'], steps: [{ stdin: 'watch {{p}}k --rev x\n' }], end: 'exit' },
  { name: 'interactive: `watch --rev 1` without key (exit 128)', args: ['watch', '-i'], steps: [{ stdin: 'watch --rev 1\n' }], end: 'exit' },
  { name: 'interactive: bad escape in quotes (exit 3)', args: ['watch', '-i'], steps: [{ stdin: 'watch "\\q"\n' }], end: 'exit' },
  { name: 'interactive: partial last line then EOF', args: ['watch', '-i'], steps: [{ stdin: 'watch {{p}}k' }, { sleep: 200 }], end: 'eof' },
  { name: 'interactive: -w table fails on the first event', args: ['watch', '-i', '-w', 'table'], steps: [{ stdin: 'watch {{p}}k\n' }, { created: 1 }, { put: ['{{p}}k', 'v'] }], end: 'exit' },
];

/** The watch is canceled by the server (server C; compaction last, it affects the whole keyspace). */
const CANCELED: WatchCase[] = [
  ...['simple', 'json', 'fields', 'protobuf'].map((w): WatchCase => ({
    name: `range_end before key: creation refused, exit 5 (-w ${w})`,
    args: ['watch', '{{p}}b', '{{p}}a', '-w', w],
    end: 'exit',
  })),
  ...['simple', 'json', 'fields', 'protobuf'].map((w): WatchCase => ({
    name: `compacted --rev: canceled, exit 5 (-w ${w})`,
    args: ['watch', '{{p}}k', '--rev', '1', '-w', w],
    setup: [{ put: ['{{p}}k', '1'] }, { fn: compactNow }],
    end: 'exit',
  })),
  {
    name: 'compacted --rev with exec command: canceled before any exec',
    args: ['watch', '{{p}}k', '--rev', '1', '--', 'echo', 'never'],
    end: 'exit',
  },
  {
    name: 'interactive: compacted --rev cancels that watch only; the reason of a refused creation sticks to the stream',
    args: ['watch', '-i'],
    steps: [
      { stdin: 'watch {{p}}b {{p}}a\n' },
      { stdin: 'watch {{p}}live\n' },
      { created: 1 },
      { stdin: 'watch {{p}}k --rev 1\n' },
      { sleep: 500 },
      { put: ['{{p}}live', 'END'] },
      { until: 'END' },
    ],
    end: 'eof',
  },
];

/** Fails before watching: compared like any one-shot command. */
const ARG_ERRORS: Array<{ name: string; args: string[]; env?: Record<string, string>; stdin?: string }> = [
  { name: 'no key', args: ['watch'] },
  { name: 'only flags, no key', args: ['watch', '--rev', '5'] },
  { name: '-- without command', args: ['watch', 'k', '--'] },
  { name: '-- without key', args: ['watch', '--rev', '5', '--', 'echo', '1'] },
  { name: 'range_end with --prefix', args: ['watch', 'a', 'b', '--prefix'] },
  { name: 'ETCDCTL_WATCH_RANGE_END without ETCDCTL_WATCH_KEY', args: ['watch', 'a'], env: { ETCDCTL_WATCH_RANGE_END: 'b' } },
  { name: 'ETCDCTL_WATCH_KEY and a key', args: ['watch', 'a'], env: { ETCDCTL_WATCH_KEY: 'a' } },
  { name: 'ETCDCTL_WATCH_KEY and a key before --', args: ['watch', 'a', '--', 'echo', '1'], env: { ETCDCTL_WATCH_KEY: 'a' } },
  { name: 'ETCDCTL_WATCH_RANGE_END check comes first', args: ['watch', '-i'], env: { ETCDCTL_WATCH_RANGE_END: 'b' } },
  { name: 'bad --rev', args: ['watch', '--rev', 'x', 'k'] },
  { name: 'unknown flag', args: ['watch', '--bogus', 'k'] },
  { name: 'unsupported output format', args: ['watch', 'k', '-w', 'xml'] },
  { name: 'interactive, EOF at once', args: ['watch', '-i'] },
  { name: 'interactive, -- check is per line', args: ['watch', '-i', 'k', '--'], stdin: '' },
  { name: 'watch --help (progress-notify line excepted, see below)', args: ['watch', '--help'] },
];

// ---------------------------------------------------------------------------
// Runner

const CASE_TIMEOUT_MS = 10_000;
/** node:test timeout per case: a hung case fails instead of blocking the file */
const CASE_HARD_TIMEOUT_MS = 45_000;
const SETTLE_MS = 200;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Proc {
  child: ChildProcess;
  out: Buffer[];
  err: Buffer[];
  exited?: { code: number | null; signal: NodeJS.Signals | null };
  exit: Promise<void>;
}

const LIVE_CHILDREN = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of LIVE_CHILDREN) c.kill('SIGKILL');
});

function startProc(bin: string, args: string[], env: Record<string, string> | undefined): Proc {
  const child = spawn(bin, args, { env: cleanEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
  LIVE_CHILDREN.add(child);
  const p: Proc = { child, out: [], err: [], exit: Promise.resolve() };
  child.stdout!.on('data', (b: Buffer) => p.out.push(b));
  child.stderr!.on('data', (b: Buffer) => p.err.push(b));
  child.stdin!.on('error', () => undefined);
  p.exit = new Promise((resolve) => {
    child.once('close', (code, signal) => {
      p.exited = { code, signal };
      LIVE_CHILDREN.delete(child);
      resolve();
    });
    child.once('error', (e) => {
      p.err.push(Buffer.from(`[test] spawn error: ${e.message}`));
      p.exited = { code: null, signal: null };
      LIVE_CHILDREN.delete(child);
      resolve();
    });
  });
  return p;
}

/** GET `url` with a hard timeout: [status, body], or undefined when the request failed. */
function httpGet(url: string, timeoutMs: number): Promise<[number, string] | undefined> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve([res.statusCode ?? 0, body]));
      res.on('error', () => resolve(undefined));
    });
    req.setTimeout(timeoutMs, () => {
      req.destroy();
      resolve(undefined);
    });
    req.on('error', () => resolve(undefined));
  });
}

/**
 * The server's current watcher count (Prometheus gauge etcd_debugging_mvcc_watcher_total);
 * 'unsupported' when the server has no such metric, 'error' when the request failed.
 */
async function watcherCount(s: CaseServer): Promise<number | 'unsupported' | 'error'> {
  const r = await httpGet(`${s.clientURL}/metrics`, 2000);
  if (!r) return 'error';
  const m = /^etcd_debugging_mvcc_watcher_total (\d+)/m.exec(r[1]);
  return m ? Number(m[1]) : 'unsupported';
}

/** Waits until the server has exactly `n` watchers (or a fixed time without metrics). */
async function waitWatchers(s: CaseServer, n: number, procs: Proc[] = []): Promise<void> {
  const deadline = Date.now() + CASE_TIMEOUT_MS;
  for (;;) {
    const c = await watcherCount(s);
    if (c === 'unsupported') return sleep(n === 0 ? 100 : 1000);
    if (c === n) return;
    if (procs.some((p) => p.exited)) return; // let the comparison tell what happened
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} watchers on the server (have ${c})\n${describeProcs(procs)}`);
    await sleep(20);
  }
}

function count(hay: Buffer, needle: Buffer): number {
  let n = 0;
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + needle.length)) n++;
  return n;
}

async function waitOutput(procs: Proc[], text: string, times: number): Promise<void> {
  const needle = Buffer.from(text);
  const deadline = Date.now() + CASE_TIMEOUT_MS;
  for (;;) {
    if (procs.every((p) => count(Buffer.concat(p.out), needle) >= times)) return;
    if (procs.some((p) => p.exited)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${JSON.stringify(text)} x${times} on stdout\n${describeProcs(procs)}`);
    await sleep(20);
  }
}

function describeProcs(procs: Proc[]): string {
  return procs
    .map((p, i) => `--- ${i === 0 ? 'REAL' : 'OURS'} exited=${JSON.stringify(p.exited)}\nstdout: ${JSON.stringify(bytesToText(Buffer.concat(p.out)))}\nstderr: ${JSON.stringify(Buffer.concat(p.err).toString('utf8'))}`)
    .join('\n');
}

// Writes go through our gRPC client in-process (no process per write): the watchers
// under test are both etcdctl processes, the writer only has to change the keyspace.
const writers = new Map<string, Promise<EtcdClient>>();

function writer(s: CaseServer): Promise<EtcdClient> {
  let c = writers.get(s.endpoint);
  if (!c) {
    c = EtcdClient.connect({ endpoints: [s.endpoint], dialTimeoutMs: 5000, commandTimeoutMs: 10_000, keepaliveTimeMs: 10_000, keepaliveTimeoutMs: 6000 });
    writers.set(s.endpoint, c);
  }
  return c;
}

async function closeWriters(): Promise<void> {
  for (const c of writers.values()) (await c).close();
  writers.clear();
}

async function put(s: CaseServer, key: string, value: string): Promise<void> {
  await (await writer(s)).put({ key: Buffer.from(key), value: Buffer.from(value) });
}

async function del(s: CaseServer, key: string, prefix: boolean): Promise<void> {
  const k = Buffer.from(key);
  await (await writer(s)).deleteRange(prefix ? { key: k.length ? k : FROM_KEY_END, rangeEnd: k.length ? prefixEnd(k) : FROM_KEY_END } : { key: k });
}

/** Compacts the whole keyspace at the current revision. */
async function compactNow(s: CaseServer): Promise<void> {
  const c = await writer(s);
  const r = await c.range({ key: Buffer.from('nothing') });
  await c.compact({ revision: r.header!.revision });
}

/**
 * Runs one step; writes and custom actions on every case server (reference first).
 * `procs` are [reference watcher, subject watcher] (or [] during setup).
 */
async function runStep(s: CaseServer, step: Step, p: string, procs: Proc[]): Promise<void> {
  const x = (t: string) => t.replaceAll('{{p}}', p);
  if ('put' in step) for (const srv of caseServers(s)) await put(srv, x(step.put[0]), x(step.put[1]));
  else if ('del' in step) for (const srv of caseServers(s)) await del(srv, x(step.del), step.prefix ?? false);
  else if ('stdin' in step) for (const pr of procs) pr.child.stdin!.write(x(step.stdin));
  else if ('created' in step) {
    if (s.subject) await Promise.all([waitWatchers(s, step.created, procs), waitWatchers(s.subject, step.created, procs)]);
    else await waitWatchers(s, step.created * procs.length, procs);
  } else if ('until' in step) await waitOutput(procs, x(step.until), step.count ?? 1);
  else if ('sleep' in step) await sleep(step.sleep);
  else for (const srv of caseServers(s)) await step.fn(srv, p);
}

/** stderr as compared: zap log lines dropped, capnslog timestamps normalized. */
function stderrText(p: Proc): string {
  return stripLogLines(Buffer.concat(p.err).toString('utf8')).replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} /gm, '<TS> ');
}

const sortLines = (s: string) => s.split('\n').sort().join('\n');

/** Runs one case: both binaries, same server, same steps; compares what they printed and how they ended. */
async function runWatchCase(s: CaseServer, c: WatchCase, p: string): Promise<void> {
  const x = (t: string) => t.replaceAll('{{p}}', p);
  await Promise.all(caseServers(s).map((srv) => waitWatchers(srv, 0)));
  for (const step of c.setup ?? []) await runStep(s, step, p, []);
  const env = c.env ? Object.fromEntries(Object.entries(c.env).map(([k, v]) => [k, x(v)])) : undefined;
  const args = [`--endpoints=${c.endpoint ?? s.endpoint}`, ...c.args.map(x)];
  const subjectArgs = [`--endpoints=${c.endpoint ?? (s.subject ?? s).endpoint}`, ...c.args.map(x)];
  if (SERVE && !s.subject && !c.endpoint) throw new Error('serve mode: the case server has no subject (our server)');
  const procs = [startProc(REAL, args, env), startProc(SUBJECT_BIN, subjectArgs, env)];
  try {
    for (const step of c.steps ?? []) await runStep(s, step, p, procs);
    if (c.end !== 'exit') {
      await sleep(SETTLE_MS);
      for (const pr of procs) {
        if (c.end === 'eof') pr.child.stdin!.end();
        else pr.child.kill(c.end);
      }
    }
    const all = Promise.all(procs.map((pr) => pr.exit));
    const timedOut = await Promise.race([all.then(() => false), sleep(CASE_TIMEOUT_MS).then(() => true)]);
    if (timedOut) throw new Error(`watchers did not end within ${CASE_TIMEOUT_MS} ms\n${describeProcs(procs)}`);
    const view = (pr: Proc) => {
      let stdout = bytesToText(Buffer.concat(pr.out));
      let stderr = stderrText(pr);
      if (c.unordered) {
        stdout = sortLines(stdout);
        stderr = sortLines(stderr);
      }
      return { stdout, stderr, exited: pr.exited };
    };
    assert.deepStrictEqual(view(procs[1]!), view(procs[0]!), `etcdctl ${args.join(' ')}\n${SIDES_LABEL}\n${describeProcs(procs)}`);
  } finally {
    for (const pr of procs) if (!pr.exited) pr.child.kill('SIGKILL');
  }
}

// ---------------------------------------------------------------------------
// A server we can restart on the same ports and data (resume after reconnect)

interface RestartableEtcd extends CaseServer {
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * etcd (`binary`: real or ours) that restart() SIGKILLs and starts again on the same
 * ports and data. The advertised peer URL is the harness's fixed one, so a real etcd
 * and ours started this way have the same member and cluster IDs.
 */
async function startRestartableEtcd(binary = ETCD_BIN): Promise<RestartableEtcd> {
  const clientPort = await getFreePort();
  const peerPort = await getFreePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-watch-test-'));
  const clientURL = `http://127.0.0.1:${clientPort}`;
  const peerURL = `http://127.0.0.1:${peerPort}`;
  const args = [
    `--data-dir=${dataDir}`, `--listen-client-urls=${clientURL}`, `--advertise-client-urls=${clientURL}`,
    `--listen-peer-urls=${peerURL}`, `--initial-advertise-peer-urls=${DEFAULT_ADVERTISE_PEER_URL}`,
    `--initial-cluster=default=${DEFAULT_ADVERTISE_PEER_URL}`,
  ];
  let child: ChildProcess | undefined;
  const server: RestartableEtcd = {
    endpoint: `127.0.0.1:${clientPort}`,
    clientURL,
    async restart() {
      await server.stop();
      child = spawn(binary, args, { stdio: 'ignore' });
      LIVE_CHILDREN.add(child);
      const deadline = Date.now() + 15_000;
      for (;;) {
        const r = await runCli(REAL, [`--endpoints=${server.endpoint}`, '--command-timeout=500ms', 'get', 'probe'], { timeoutMs: 3000 });
        if (r.code === 0) return;
        if (Date.now() > deadline) throw new Error(`${binary} did not start: ${r.stderr}`);
        await sleep(100);
      }
    },
    async stop() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await gone;
      LIVE_CHILDREN.delete(c);
    },
  };
  await server.restart();
  const stop = server.stop;
  server.stop = async () => {
    await stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  return server;
}

// ---------------------------------------------------------------------------
// Tests

let serverA: RealEtcd;
let serverB: RealEtcd;
let serverC: RealEtcd;
let serverD: RealEtcd;
let serverE: RealEtcd;

before(async () => {
  [serverA, serverB, serverC, serverD, serverE] = await Promise.all([
    startComparedEtcd({ name: 'watch-a' }),
    startComparedEtcd({ name: 'watch-b' }),
    // progress notifications every 500 ms for watches that ask for them (--progress-notify)
    startComparedEtcd({ name: 'watch-c', extraArgs: ['--experimental-watch-progress-notify-interval=500ms'] }),
    startComparedEtcd({ name: 'watch-d' }),
    startComparedEtcd({ name: 'watch-e' }),
  ]);
});

after(async () => {
  for (const c of LIVE_CHILDREN) c.kill('SIGKILL');
  await closeWriters();
  await stopAll(serverA, serverB, serverC, serverD, serverE);
});

describe('watch equals etcdctl 3.4.23', { concurrency: true }, () => {
  // LIVE runs on two servers, half each, for wall-clock time
  const half = Math.ceil(LIVE.length / 2);
  test('live events, formats, ranges', async (t) => {
    let i = 0;
    for (const c of LIVE.slice(0, half)) {
      const p = `a${i++}/`;
      await t.test(c.name, { timeout: CASE_HARD_TIMEOUT_MS }, () => runWatchCase(serverA, c, p));
    }
  });

  test('live events, history replay, environment', async (t) => {
    let i = 0;
    for (const c of LIVE.slice(half)) {
      const p = `e${i++}/`;
      await t.test(c.name, { timeout: CASE_HARD_TIMEOUT_MS }, () => runWatchCase(serverE, c, p));
    }
  });

  test('exec command', async (t) => {
    let i = 0;
    for (const c of EXEC) {
      const p = `b${i++}/`;
      await t.test(c.name, { timeout: CASE_HARD_TIMEOUT_MS }, () => runWatchCase(serverB, c, p));
    }
  });

  test('interactive mode', async (t) => {
    let i = 0;
    for (const c of INTERACTIVE) {
      const p = `d${i++}/`;
      await t.test(c.name, { timeout: CASE_HARD_TIMEOUT_MS }, () => runWatchCase(serverD, c, p));
    }
  });

  test('canceled by the server, argument errors, help', async (t) => {
    let i = 0;
    for (const c of CANCELED) {
      const p = `c${i++}/`;
      await t.test(c.name, { timeout: CASE_HARD_TIMEOUT_MS }, () => runWatchCase(serverC, c, p));
    }
    await Promise.all(
      ARG_ERRORS.map((c) =>
        t.test(c.name, async () => {
          // usage (help, flag errors) lists --progress-notify, which 3.4.23 does not have
          const normalize = (s: string) => s.replace(/^ *--progress-notify\[=false\]\t.*\n/m, '');
          await compareCli(c.args, { server: serverC, env: c.env, stdin: c.stdin, stderr: 'nonLog', normalize });
        }),
      ),
    );
  });

  test('resume after the server restarts (3.4 replays the event at the creation revision)', { timeout: CASE_HARD_TIMEOUT_MS }, async () => {
    const s: RestartableEtcd = await startRestartableEtcd();
    if (SERVE) s.subject = await startRestartableEtcd(OUR_ETCD_BIN).catch(async (e: unknown) => {
      await s.stop();
      throw e;
    });
    try {
      const c: WatchCase = {
        name: 'resume',
        args: ['watch', '{{p}}k', '-w', 'json'],
        setup: [{ put: ['{{p}}k', 'before'] }],
        steps: [
          { created: 1 },
          { fn: (srv) => (srv as RestartableEtcd).restart() },
          // both resumed, and their replay sent, before the next write (else it may
          // arrive in the same response as the replay)
          { created: 1 },
          { sleep: 300 },
          { put: ['{{p}}k', 'after'] },
          { until: Buffer.from('after').toString('base64') },
        ],
        end: 'SIGTERM',
      };
      await runWatchCase(s, c, 'r/');
    } finally {
      await s.stop();
      await (s.subject as RestartableEtcd | undefined)?.stop();
    }
  });
});

describe('watch: documented differences from 3.4.23', { concurrency: true, skip: skipInServe(CLI_ONLY) }, () => {
  test('--progress-notify (etcdctl 3.5) prints periodic progress notifies; 3.4.23 rejects the flag', { timeout: CASE_HARD_TIMEOUT_MS }, async () => {
    const real = await runCli(REAL, [`--endpoints=${serverC.endpoint}`, 'watch', '--progress-notify', 'pn']);
    assert.equal(real.code, 1);
    assert.match(real.stderr, /Error: unknown flag: --progress-notify/);

    const ours = startProc(OURS, [`--endpoints=${serverC.endpoint}`, 'watch', '--progress-notify', 'pn/k'], undefined);
    try {
      await waitOutput([ours], 'progress notify: ', 2);
      ours.child.kill('SIGTERM');
      await ours.exit;
      const out = Buffer.concat(ours.out).toString('utf8');
      assert.match(out, /^(progress notify: \d+\n){2,}$/);
      assert.equal(ours.exited?.signal, 'SIGTERM');
    } finally {
      if (!ours.exited) ours.child.kill('SIGKILL');
    }
  });

  test("interactive: a single-quoted word where etcdctl's argify would panic is unquoted", { timeout: CASE_HARD_TIMEOUT_MS }, async () => {
    // Real etcdctl 3.4 panics on a one-word line like `'watch'` (slice [1:0]).
    const r = await runCli(OURS, [`--endpoints=${serverC.endpoint}`, 'watch', '-i'], { stdin: "'watch'\n'bogus'\n" });
    assert.equal(r.code, 3);
    assert.equal(
      r.stderr,
      "Invalid command 'watch' (command type or key is not provided)\nInvalid command 'bogus' (only support watch)\nError: Error reading watch request line: EOF\n",
    );
  });
});
