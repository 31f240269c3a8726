// In-process tests of the etcd command line (embed/config.ts), the zap-shaped logger
// (server/logger.ts) and main's lifecycle with a stand-in startEtcd.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseEtcdConfig, flagToEnv } from '../../../src/server/embed/config.js';
import { parseGoDuration, formatGoDuration, parseGoUint } from '../../../src/server/embed/go-flag.js';
import { createCapnslogLogger, createZapLogger, zapTimestamp } from '../../../src/server/logger.js';
import { main, type EtcdHandle } from '../../../src/server/etcdmain/main.js';
import type { EmbedConfig } from '../../../src/server/embed/config-types.js';

function ok(argv: string[], env: Record<string, string> = {}) {
  const r = parseEtcdConfig(argv, env);
  assert.equal(r.kind, 'ok', JSON.stringify(r, (_k, v) => (v instanceof Error ? v.message : v)));
  return r as Extract<typeof r, { kind: 'ok' }>;
}

test('defaults are etcd 3.4 defaults', () => {
  const { config: c, dataDirDefaulted } = ok([]);
  assert.equal(c.name, 'default');
  assert.equal(c.dataDir, 'default.etcd');
  assert.equal(dataDirDefaulted, true);
  assert.deepEqual(c.listenClientUrls.map(String), ['http://localhost:2379/']);
  assert.deepEqual(c.advertiseClientUrls.map(String), ['http://localhost:2379/']);
  assert.deepEqual(c.listenPeerUrls.map(String), ['http://localhost:2380/']);
  assert.deepEqual([...c.initialCluster], [['default', ['http://localhost:2380']]]);
  assert.equal(c.initialClusterToken, 'etcd-cluster');
  assert.equal(c.initialClusterState, 'new');
  assert.equal(c.snapshotCount, 100000);
  assert.equal(c.heartbeatMs, 100);
  assert.equal(c.electionMs, 1000);
  assert.equal(c.quotaBackendBytes, 0);
  assert.equal(c.maxRequestBytes, 1572864);
  assert.equal(c.maxTxnOps, 128);
  assert.equal(c.autoCompactionMode, 'periodic');
  assert.equal(c.autoCompactionRetention, '0');
  assert.equal(c.authToken, 'simple');
  assert.equal(c.bcryptCost, 10);
  assert.equal(c.strictReconfigCheck, true);
  assert.equal(c.maxConcurrentStreams, 0xffffffff);
  assert.equal(c.grpcKeepAliveIntervalMs, 7200000);
  assert.deepEqual(c.log, { logger: 'capnslog', level: 'info', outputs: ['default'] });
});

test('Go flag syntax: -x v, --x=v, bools, numbers in base 0, durations', () => {
  const { config: c } = ok(['-name', 'n1', '--data-dir=/d', '--snapshot-count=0x10', '--strict-reconfig-check=false', '--pre-vote',
    '--experimental-watch-progress-notify-interval=1m30s', '--initial-advertise-peer-urls', 'http://127.0.0.1:7,http://127.0.0.1:6']);
  assert.equal(c.name, 'n1');
  assert.equal(c.dataDir, '/d');
  assert.equal(c.snapshotCount, 16);
  assert.equal(c.strictReconfigCheck, false);
  assert.equal(c.preVote, true);
  assert.equal(c.experimentalWatchProgressNotifyIntervalMs, 90000);
  // sorted, and initial-cluster derived from the name (etcd UpdateDefaultClusterFromName)
  assert.deepEqual([...c.initialCluster], [['n1', ['http://127.0.0.1:6', 'http://127.0.0.1:7']]]);
});

test('ETCD_* variables fill unset flags; --listen-client-urls alone needs advertise', () => {
  const r = ok(['--name=a'], { ETCD_DATA_DIR: '/x', ETCD_HEARTBEAT_INTERVAL: '200', ETCD_ELECTION_TIMEOUT: '2000', PATH: '/bin' });
  assert.equal(r.config.dataDir, '/x');
  assert.equal(r.config.heartbeatMs, 200);
  assert.match(r.preamble, /I \| pkg\/flags: recognized and used environment variable ETCD_DATA_DIR=\/x\n/);
  assert.equal(flagToEnv('ETCD', 'experimental-watch-progress-notify-interval'), 'ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL');
  const bad = parseEtcdConfig(['--listen-client-urls=http://127.0.0.1:5'], {});
  assert.equal(bad.kind, 'invalid');
});

test('--config-file YAML: etcd keys, TLS sections, durations in ns; command-line flags ignored', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcdcfg-'));
  const file = path.join(dir, 'etcd.yml');
  fs.writeFileSync(file, [
    'name: y1', 'data-dir: /data/y1', 'listen-client-urls: http://127.0.0.1:5', 'advertise-client-urls: http://127.0.0.1:5',
    'initial-advertise-peer-urls: http://127.0.0.1:6', 'initial-cluster: y1=http://127.0.0.1:6', 'initial-cluster-state: existing',
    'snapshot-count: 42', 'experimental-watch-progress-notify-interval: 2000000000', 'logger: zap', 'log-outputs: [stdout]',
    'client-transport-security:', '  cert-file: /c.pem', '  key-file: /k.pem', '  client-cert-auth: true',
  ].join('\n'));
  try {
    const r = ok([`--config-file=${file}`, '--name=ignored']);
    assert.equal(r.config.name, 'y1');
    assert.equal(r.config.dataDir, '/data/y1');
    assert.equal(r.config.snapshotCount, 42);
    assert.equal(r.config.initialClusterState, 'existing');
    assert.equal(r.config.experimentalWatchProgressNotifyIntervalMs, 2000);
    assert.deepEqual(r.config.log.outputs, ['stdout']);
    assert.equal(r.config.clientTls.certFile, '/c.pem');
    assert.equal(r.config.clientTls.clientCertAuth, true);
    assert.deepEqual(r.config.listenClientUrls.map(String), ['http://127.0.0.1:5/']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('unsupported values: rejected with a clear message or warned', () => {
  const r = parseEtcdConfig(['--proxy=on'], {});
  assert.equal(r.kind, 'invalid');
  assert.match((r as { error: Error }).error.message, /--proxy=on is not supported/);
  // JWT options are taken as given and checked when the server starts (auth/token-jwt.ts)
  assert.equal(ok(['--auth-token=jwt,pub-key=x']).config.authToken, 'jwt,pub-key=x');
  const w = ok(['--enable-pprof', '--cors=http://127.0.0.1:1']);
  assert.deepEqual(w.unsupported, ['cors', 'enable-pprof']);
});

test('Go number and duration parsing', () => {
  assert.equal(parseGoUint('0b101', 64), 5n);
  assert.equal(parseGoUint('0o17', 64), 15n);
  assert.equal(parseGoUint('017', 64), 15n);
  assert.equal(parseGoUint('0x1_0', 64), 16n);
  assert.throws(() => parseGoUint('1_000', 64), /invalid syntax/);
  assert.throws(() => parseGoUint('18446744073709551616', 64), /value out of range/);
});

test('durations', () => {
  assert.equal(parseGoDuration('1h2m3.5s'), 3723.5e9);
  assert.equal(parseGoDuration('250ms'), 250e6);
  assert.throws(() => parseGoDuration('5'), /missing unit/);
  assert.equal(formatGoDuration(100e6), '100ms');
  assert.equal(formatGoDuration(1e9), '1s');
  assert.equal(formatGoDuration(3723.5e9), '1h2m3.5s');
  assert.equal(formatGoDuration(0), '0s');
});

test('logger: zap JSON shape, key order, levels, Error fields', () => {
  const lines: string[] = [];
  const lg = createZapLogger({ level: 'info', stream: { write: (s: string) => void lines.push(s) }, now: () => Date.UTC(2026, 10, 21, 2, 15, 0, 123) });
  lg.debug('hidden');
  lg.info('configuring client listeners', { 'listen-client-urls': ['http://localhost:2379'] });
  lg.warn('failed', { error: new Error('boom'), n: 3n });
  assert.equal(lines.length, 2);
  const first = lines[0];
  assert.ok(first.endsWith('\n'));
  const o = JSON.parse(first);
  assert.deepEqual(Object.keys(o), ['level', 'ts', 'caller', 'msg', 'listen-client-urls']);
  assert.equal(o.level, 'info');
  assert.equal(o.ts, zapTimestamp(Date.UTC(2026, 10, 21, 2, 15, 0, 123)));
  if (new Date().getTimezoneOffset() === 0) assert.equal(o.ts, '2026-11-21T02:15:00.123Z');
  assert.match(o.caller, /^etcdmain\/config-logger\.test\.ts:\d+$|config-logger\.test\.ts:\d+$/);
  assert.deepEqual(JSON.parse(lines[1]), { ...JSON.parse(lines[1]), level: 'warn', msg: 'failed', error: 'boom', n: 3 });
  assert.throws(() => createZapLogger({ level: 'bogus' }), /unknown level "bogus"/);
  // a capnslog-only event (empty zap message) writes nothing in zap mode
  lg.info('', {}, { pkg: 'embed', text: 'ready to serve client requests' });
  assert.equal(lines.length, 2);
  const dbg: string[] = [];
  createZapLogger({ level: 'debug', stream: { write: (s: string) => void dbg.push(s) } }).debug('shown');
  assert.equal(JSON.parse(dbg[0]).level, 'debug');
});

test('logger: capnslog lines (etcd 3.4 default): the given text and level, else msg and fields; --log-level filters', () => {
  const lines: string[] = [];
  const t = new Date(2026, 10, 21, 2, 15, 0, 123).getTime();
  const lg = createCapnslogLogger({ level: 'info', write: (s) => void lines.push(s), now: () => t });
  lg.debug('hidden', {}, { pkg: 'etcdserver', text: 'hidden' });
  lg.info('published local member to cluster through raft', { 'local-member-id': 'x' }, { pkg: 'etcdserver', text: 'published {Name:n1 ClientURLs:[http://127.0.0.1:2379]} to cluster 1' });
  lg.info('set initial cluster version', {}, { level: 'N', pkg: 'etcdserver/membership', text: 'set the initial cluster version to 3.4' });
  lg.warn('failed', { error: new Error('boom'), urls: ['a', 'b'] });
  assert.deepEqual(lines, [
    '2026-11-21 02:15:00.123000 I | etcdserver: published {Name:n1 ClientURLs:[http://127.0.0.1:2379]} to cluster 1\n',
    '2026-11-21 02:15:00.123000 N | etcdserver/membership: set the initial cluster version to 3.4\n',
    '2026-11-21 02:15:00.123000 W | etcdmain: failed (error=boom, urls=[a b])\n',
  ]);
  assert.throws(() => createCapnslogLogger({ level: 'bogus' }), /unknown level "bogus"/);
  const warnOnly: string[] = [];
  const w = createCapnslogLogger({ level: 'warn', write: (s) => void warnOnly.push(s) });
  w.info('no');
  w.error('yes');
  assert.equal(warnOnly.length, 1);
  assert.match(warnOnly[0], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} E \| etcdmain: yes\n$/);
});

test('logger: --log-outputs file path gets the lines', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcdlog-'));
  try {
    const f = path.join(dir, 'etcd.log');
    const lg = createZapLogger({ outputs: [f] });
    lg.error('to file', { k: 'v' });
    const o = JSON.parse(fs.readFileSync(f, 'utf8'));
    assert.equal(o.msg, 'to file');
    assert.equal(o.level, 'error');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('main: starts the member with the parsed config, closes it on SIGTERM and ends by the signal', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcdmain-'));
  let started: EmbedConfig | undefined;
  let closed = 0;
  let signal: ((s: 'SIGINT' | 'SIGTERM') => void) | undefined;
  let unregistered = false;
  const err: string[] = [];
  try {
    const p = main(['--logger=zap', `--data-dir=${dir}`, '--name=m1'], {}, {
      stdout: () => {},
      stderr: (t) => void err.push(t),
      startEtcd: async (cfg): Promise<EtcdHandle> => {
        started = cfg;
        return { close: async () => void closed++ };
      },
      onSignal: (h) => {
        signal = h;
        return () => void (unregistered = true);
      },
    });
    for (let i = 0; i < 100 && !signal; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(started, 'startEtcd called');
    assert.equal(started!.name, 'm1');
    assert.deepEqual([...started!.initialCluster], [['m1', ['http://localhost:2380']]]);
    signal!('SIGTERM');
    assert.equal(await p, 'SIGTERM');
    assert.equal(closed, 1);
    assert.equal(unregistered, true);
    const msgs = err.join('').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(msgs.at(-1), { ...msgs.at(-1), level: 'info', msg: 'received signal; shutting down', signal: 'terminated' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('main: a failing start logs like etcd and exits 1', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcdmain-'));
  const err: string[] = [];
  try {
    const code = await main(['--logger=zap', `--data-dir=${dir}`], {}, {
      stdout: () => {},
      stderr: (t) => void err.push(t),
      startEtcd: async () => {
        throw new Error('listen tcp 127.0.0.1:1: bind: permission denied');
      },
      onSignal: () => () => {},
    });
    assert.equal(code, 1);
    const msgs = err.join('').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(msgs.map((m) => [m.level, m.msg]), [['warn', 'failed to start etcd'], ['fatal', 'discovery failed']]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
