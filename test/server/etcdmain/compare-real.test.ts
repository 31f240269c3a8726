// The `etcd` command line against the real etcd 3.4.23 (/usr/bin/etcd, or $ETCD_BIN):
// for inputs that fail (or answer) before a server starts, both binaries run with the
// same argv, environment and working directory, and stdout, stderr and the exit code
// are compared. Time stamps are normalised; zap JSON lines are compared without "ts"
// and "caller" (ours names our file). Real etcd is never left running: every case
// either exits before listening or is bounded by a timeout, and its listen URLs are
// free loopback ports.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli, REPO_ROOT } from '../../harness/run.js';
import { ETCD_BIN } from '../../harness/etcd.js';
import { getFreePort } from '../../harness/ports.js';

const OURS = path.join(REPO_ROOT, 'bin', 'etcd');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'etcdmain-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

fs.writeFileSync(path.join(work, 'bad-type.yml'), 'name: x\nsnapshot-count: abc\n');
fs.writeFileSync(path.join(work, 'bad-url.yml'), 'name: n1\nlisten-client-urls: foo\n');
fs.writeFileSync(path.join(work, 'bad-timeout.yml'), 'name: n1\nlogger: zap\nlisten-client-urls: http://127.0.0.1:1\nheartbeat-interval: 500\n');

/** stderr with capnslog time stamps replaced and zap lines reduced to level/msg/fields. */
function normalise(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      if (l.startsWith('{')) {
        const o = JSON.parse(l) as Record<string, unknown>;
        delete o.ts;
        delete o.caller;
        delete o.stacktrace;
        return JSON.stringify(o);
      }
      return l.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} /, '<ts> ');
    });
}

interface Case {
  args: string[];
  env?: Record<string, string>;
  /** compare only stderr's first line (Go panics print a goroutine dump after it) */
  firstLineOnly?: boolean;
  /** zap lines to compare: only these messages (real etcd logs server lines too) */
  onlyMsgs?: string[];
}

async function compare(c: Case): Promise<void> {
  // each binary gets its own data dir: real etcd creates <data-dir>/member while ours checks for it
  const realDir = fs.mkdtempSync(path.join(work, 'real-'));
  const oursDir = fs.mkdtempSync(path.join(work, 'ours-'));
  const env = { ...(c.env ?? {}) };
  const opts = { env, cwd: work, timeoutMs: 15_000 };
  // strip ETCD_* from the inherited environment: only the case's variables count
  for (const k of Object.keys(process.env)) if (k.startsWith('ETCD_') && !(k in env)) env[k] = '';
  const args = c.args.map((a) => a.replace('@DATA@', realDir));
  const oursArgs = c.args.map((a) => a.replace('@DATA@', oursDir));
  const [real, ours] = await Promise.all([runCli(ETCD_BIN, args, opts), runCli(OURS, oursArgs, opts)]);
  // the one deliberate difference in the usage text: pre-vote is on by default (etcd 3.5+)
  const fix = (s: string) => s.split(oursDir).join(realDir).replace("--pre-vote 'true'", "--pre-vote 'false'");
  ours.stderr = fix(ours.stderr);
  ours.stdout = Buffer.from(fix(ours.stdout.toString()));
  const label = `etcd ${args.join(' ')} ${JSON.stringify(c.env ?? {})}`;
  assert.equal(ours.timedOut, false, `${label}: ours timed out`);
  assert.equal(real.timedOut, false, `${label}: real etcd timed out`);
  assert.equal(ours.code, real.code, `${label}: exit code; ours stderr: ${ours.stderr}\nreal stderr: ${real.stderr}`);
  assert.equal(ours.stdout.toString(), real.stdout.toString(), `${label}: stdout`);
  let r = normalise(real.stderr);
  let o = normalise(ours.stderr);
  if (c.firstLineOnly) {
    r = r.filter((l) => !l.startsWith('[WARNING]')).slice(0, 1);
    o = o.filter((l) => !l.startsWith('[WARNING]')).slice(0, 1);
  }
  if (c.onlyMsgs) {
    const keep = (l: string) => l.startsWith('{') && c.onlyMsgs!.includes((JSON.parse(l) as { msg: string }).msg);
    r = r.filter(keep);
    o = o.filter(keep);
  }
  assert.deepEqual(o, r, `${label}: stderr`);
}

const cases: Case[] = [
  { args: ['--nope'] },
  { args: ['-nope=1'] },
  { args: ['--snapshot-count=abc'] },
  { args: ['--snapshot-count=99999999999999999999999'] },
  { args: ['--heartbeat-interval', '-5'] },
  { args: ['--quota-backend-bytes=1x'] },
  { args: ['--backend-batch-interval=abc'] },
  { args: ['--backend-batch-limit=1.5'] },
  { args: ['-name'] },
  { args: ['---name'] },
  { args: ['--enable-v2=maybe'] },
  { args: ['--max-concurrent-streams=-1'] },
  { args: ['--initial-cluster-state=bogus'] },
  { args: ['--discovery-fallback=nope'] },
  { args: ['--experimental-watch-progress-notify-interval=5x'] },
  { args: ['--listen-client-urls=foo'] },
  { args: ['--listen-client-urls=http://127.0.0.1:1/x'] },
  { args: ['--listen-client-urls=http://127.0.0.1'] },
  { args: ['--listen-client-urls=:foo'] },
  { args: ['--listen-client-urls=http://a b:1'] },
  { args: ['--listen-client-urls=http://[::1:1'] },
  { args: ['--listen-client-urls=http://h:abc'] },
  { args: ['--listen-peer-urls=ftp://127.0.0.1:1'] },
  { args: ['extra'] },
  { args: ['--enable-v2', 'false'] },
  { args: ['--data-dir=@DATA@', '--', '--name=x'] },
  { args: ['--help'] },
  { args: ['-h'] },
  { args: ['-help'] },
  { args: ['--data-dir=@DATA@', '--listen-client-urls=http://127.0.0.1:1'] },
  { args: ['--data-dir=@DATA@', '--logger=zap', '--listen-client-urls=http://127.0.0.1:1'] },
  { args: ['--data-dir=@DATA@', '--logger=zap', '--listen-client-urls=http://example.com:1', '--advertise-client-urls=http://x:1'] },
  { args: ['--data-dir=@DATA@', '--logger=zap', '--advertise-client-urls=http://:1'] },
  { args: ['--data-dir=@DATA@', '--logger=zap', '--heartbeat-interval=500', '--election-timeout=1000'] },
  { args: ['--data-dir=@DATA@', '--logger=zap', '--heartbeat-interval=0'] },
  { args: ['--data-dir=@DATA@', '--logger=zap', '--election-timeout=60000'] },
  { args: ['--data-dir=@DATA@', '--logger=zap', '--auto-compaction-mode=bogus'] },
  { args: ['--data-dir=@DATA@', '--logger=zap', '--experimental-enable-lease-checkpoint-persist'] },
  { args: ['--data-dir=@DATA@', '--logger=zap', '--discovery=http://127.0.0.1:1', '--initial-cluster=a=http://127.0.0.1:2'] },
  { args: ['--data-dir=@DATA@', '--logger=bogus'] },
  { args: ['--data-dir=@DATA@', '--logger=zap', '--log-outputs=default,stdout'] },
  { args: ['--data-dir=@DATA@', '--log-outputs=stderr,stdout'] },
  { args: ['--data-dir=@DATA@', '--log-outputs=/tmp/x'] },
  { args: ['--data-dir=@DATA@', '--log-output=stderr', '--logger=zap', '--listen-client-urls=http://127.0.0.1:1'] },
  { args: ['--data-dir=@DATA@', '--v', '--listen-client-urls=http://127.0.0.1:1'] },
  { args: ['--log-level=bogus'], firstLineOnly: true },
  { args: ['--logger=zap', '--log-level=bogus'], firstLineOnly: true },
  // environment variables (etcd pkg/flags SetFlagsFromEnv)
  { args: ['--name=y', '--data-dir=@DATA@'], env: { ETCD_NAME: 'x' } },
  { args: ['--data-dir=@DATA@'], env: { ETCD_SNAPSHOT_COUNT: 'abc' } },
  { args: ['--data-dir=@DATA@', '--logger=zap'], env: { ETCD_LISTEN_CLIENT_URLS: 'http://127.0.0.1:1', ETCD_BOGUS_THING: '1' } },
  { args: ['--data-dir=@DATA@'], env: { ETCD_ENABLE_V2: 'maybe' } },
  // --config-file (and ETCD_CONFIG_FILE): other flags and ETCD_* ignored
  { args: ['--config-file=bad-type.yml'] },
  { args: ['--config-file=bad-url.yml'] },
  { args: ['--config-file=bad-timeout.yml', '--name=zz', '--heartbeat-interval=10'] },
  { args: [], env: { ETCD_CONFIG_FILE: 'bad-timeout.yml', ETCD_NAME: 'q' } },
  { args: ['--config-file=missing.yml'] },
];

for (const c of cases) {
  test(`etcd ${c.args.join(' ')}${c.env ? ' ' + JSON.stringify(c.env) : ''} behaves as real etcd`, () => compare(c));
}

test('--version: same lines as real etcd, with our build in the Git SHA / Go lines', async () => {
  const [real, ours] = await Promise.all([runCli(ETCD_BIN, ['--version']), runCli(OURS, ['-version'])]);
  assert.equal(ours.code, 0);
  const r = real.stdout.toString().split('\n');
  const o = ours.stdout.toString().split('\n');
  assert.equal(o[0], r[0]);
  assert.equal(o.length, r.length);
  assert.deepEqual(o.map((l) => l.split(':')[0]), r.map((l) => l.split(':')[0]));
  assert.equal(o[3], r[3]);
});

test('bootstrap check: --initial-advertise-peer-urls not in --initial-cluster fails like real etcd', async () => {
  const [cp, pp] = [await getFreePort(), await getFreePort()];
  await compare({
    args: [
      '--data-dir=@DATA@', '--logger=zap', `--listen-client-urls=http://127.0.0.1:${cp}`, `--advertise-client-urls=http://127.0.0.1:${cp}`,
      `--listen-peer-urls=http://127.0.0.1:${pp}`, '--initial-advertise-peer-urls=http://10.0.0.1:2380',
    ],
    onlyMsgs: ['failed to start etcd', 'discovery failed', 'failed to start'],
  });
  await compare({
    args: [
      '--data-dir=@DATA@', '--logger=zap', `--listen-client-urls=http://127.0.0.1:${cp}`, `--advertise-client-urls=http://127.0.0.1:${cp}`,
      `--listen-peer-urls=http://127.0.0.1:${pp}`, '--initial-cluster=foo=http://127.0.0.1:2380',
    ],
    onlyMsgs: ['failed to start etcd', 'discovery failed'],
  });
});

test('etcdctl serve runs the same etcd main', async () => {
  const r = await runCli(path.join(REPO_ROOT, 'bin', 'etcdctl'), ['serve', '--nope']);
  const e = await runCli(OURS, ['--nope']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, e.stderr);
  const v = await runCli(path.join(REPO_ROOT, 'bin', 'etcdctl'), ['serve', '--version']);
  assert.match(v.stdout.toString(), /^etcd Version: 3\.4\.23\n/);
});
