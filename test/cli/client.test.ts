// What etcdctl's Go client (clientv3 3.4) does around a command, compared with the real
// etcdctl 3.4.23 against real etcd:
//
// - the zap JSON lines its retry interceptor writes to stderr for every failed unary
//   attempt (`retrying of unary invoker failed`, with the grpc target and the raw
//   status), e.g. with `--user` against a server without auth: once when connecting,
//   again for each per-endpoint dial (endpoint status/hashkv, defrag) and before each
//   stream (lease keep-alive, lock); once per endpoint for a wrong password; the
//   balancer error when nothing can be connected to; `snapshot save`'s own info lines
//   (epoch time stamps) around the client's snapshot stream lines;
// - its retry after auth errors: a JWT token issued before an auth change is answered
//   with `etcdserver: revision of auth store is old`; the client authenticates again and
//   sends the request again (logged), or, when that authentication fails, logs
//   `retrying of unary invoker failed to fetch new auth token` and fails with its error;
//   a watch created with such a token is refused with that cancel reason, and the
//   watch client opens a new stream (leaving the old one open) and watches again.
//
// stderr is compared whole, with the line's time stamp and the client's random UUID
// (`endpoint://client-<uuid>/...`) replaced.

import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startComparedEtcd, startEtcd, stopAll, type EtcdProcess } from '../harness/etcd.js';
import { compareCli, ENDPOINT_PLACEHOLDER, normalizeDbSize, OURS, REAL, runCli, seedCli, type RunContext } from '../harness/run.js';
import { CLI_ONLY, skipInServe } from '../harness/target.js';

/** zap's time stamp and the client's resolver UUID vary between runs. */
function scrubLog(text: string): string {
  return text
    .replace(/"ts":"[^"]*"/g, '"ts":"<ts>"')
    .replace(/client-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'client-<uuid>');
}

const NO_AUTH_USER = ['--user', 'root:x'];
/**
 * Authenticate costs the server a bcrypt hash and etcdctl allows it only the dial
 * timeout (2 s): generous limits keep a busy machine from turning cases into timeouts.
 */
const SLACK = ['--dial-timeout=30s', '--command-timeout=30s'];
// db sizes differ between twins (backend commit timing; our backend is not bbolt in serve mode)
const LOG_CMP = { stderr: 'full' as const, normalize: (t: string, ctx: RunContext) => normalizeDbSize(scrubLog(t), ctx), timeoutMs: 90_000 };

/** Runs the cases one after another (each runs both etcdctls at once). */
async function inTurn(cases: Array<() => Promise<unknown>>): Promise<void> {
  for (const c of cases) await c();
}

/** Commands with `--user` against a server with auth disabled: one warning per Authenticate. */
const AUTH_DISABLED_CASES: string[][] = [
  [...NO_AUTH_USER, 'put', 'a', 'b'],
  [...NO_AUTH_USER, 'get', 'a'],
  [...NO_AUTH_USER, 'member', 'list'],
  [...NO_AUTH_USER, 'alarm', 'list'],
  [...NO_AUTH_USER, 'endpoint', 'status'], // again for the endpoint's own dial
  [...NO_AUTH_USER, 'endpoint', 'hashkv'],
  [...NO_AUTH_USER, 'defrag'],
  [...NO_AUTH_USER, 'lease', 'keep-alive', '--once', '1'], // again before the stream
  [...NO_AUTH_USER, 'lock', 'l', 'echo', 'hi'],
  [...NO_AUTH_USER, 'move-leader', '1'], // a client per endpoint; the error from MoveLeader
  ['--user', 'root:', 'get', 'a'], // empty password: no Authenticate, no warning
];

describe('Go client log lines and retries against real etcdctl', () => {
  let plain: EtcdProcess | undefined;
  let withAuth: EtcdProcess | undefined;
  before(async () => {
    [plain, withAuth] = await Promise.all([startComparedEtcd(), startComparedEtcd()]);
    await seedCli(plain, ['put', 'a', '1']);
    await seedCli(withAuth, ['user', 'add', 'root:rootpw']);
    await seedCli(withAuth, ['auth', 'enable']);
  });
  after(async () => {
    await stopAll(plain, withAuth);
  });

  test('--user with auth disabled: a warning line per Authenticate, then the output', async () => {
    await inTurn(AUTH_DISABLED_CASES.map((args) => () => compareCli([...SLACK, ...args], { server: plain, ...LOG_CMP })));
  });

  test('failed calls are logged with their grpc target and status', async () => {
    await inTurn([
      // a per-endpoint dial logs as passthrough:///<endpoint>
      () => compareCli([...SLACK, 'endpoint', 'hashkv', '--rev', '999'], { server: plain, ...LOG_CMP }),
      () => compareCli([`--endpoints=http://${ENDPOINT_PLACEHOLDER}`, ...SLACK, 'endpoint', 'hashkv', '--rev', '999'], { server: plain, endpoints: false, ...LOG_CMP }),
      () => compareCli([...SLACK, 'del', ''], { server: plain, ...LOG_CMP }),
      // auth enabled: no user, and a wrong password tried on each endpoint in turn
      () => compareCli([...SLACK, 'get', 'a'], { server: withAuth, ...LOG_CMP }),
      () => compareCli([`--endpoints=${ENDPOINT_PLACEHOLDER},http://${ENDPOINT_PLACEHOLDER}`, ...SLACK, '--user', 'root:bad', 'get', 'a'], { server: withAuth, endpoints: false, ...LOG_CMP }),
      () => compareCli([...SLACK, '--user', 'root:rootpw', 'auth', 'enable'], { server: withAuth, ...LOG_CMP }),
    ]);
  });

  test('snapshot save: the snapshot manager\'s and the client\'s log lines', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcdctl-snaplog-'));
    try {
      const run = (bin: string, file: string) =>
        runCli(bin, [`--endpoints=${plain!.endpoint}`, ...SLACK, '--user', 'root:x', 'snapshot', 'save', path.join(dir, file)], { timeoutMs: 90_000 });
      // one after the other: the database (and its size in the log) must not change between them
      const real = await run(REAL, 'real.db');
      const ours = await run(OURS, 'ours.db');
      const scrub = (t: string, file: string) =>
        scrubLog(t)
          .replaceAll(path.join(dir, file), '<file>')
          .replace(/"ts":[0-9.]+/g, '"ts":<epoch>')
          .replace(/"took":[0-9.e-]+/g, '"took":<seconds>');
      assert.equal(scrub(ours.stderr, 'ours.db'), scrub(real.stderr, 'real.db'));
      assert.equal(scrub(ours.stdout.toString(), 'ours.db'), scrub(real.stdout.toString(), 'real.db'));
      assert.equal(ours.code, real.code);
      assert.match(real.stderr, /"msg":"fetched snapshot"/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('nothing to connect to: the balancer error in the warning', { skip: skipInServe(CLI_ONLY) }, async () => {
    await compareCli(['--endpoints=127.0.0.1:1', '--command-timeout=1s', 'get', 'a'], { endpoints: false, ...LOG_CMP });
  });
});

/**
 * Runs `etcdctl --user root:<pw> txn -i` against `endpoint`: once it prompts (it has
 * authenticated by then), runs `between` with the real etcdctl, then sends a txn with
 * one put.
 */
async function txnAfterAuthChange(bin: string, endpoint: string, between: { args: string[]; input?: string }) {
  const child = spawn(bin, [`--endpoints=${endpoint}`, ...SLACK, '--user', 'root:rootpw', 'txn', '-i'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('compares:')) resolve();
    });
    void closed.then(() => reject(new Error(`${bin} txn -i ended before prompting: ${err}`)));
  });
  execFileSync(REAL, [`--endpoints=${endpoint}`, '--user', 'root:rootpw', ...between.args], { input: between.input ?? '' });
  child.stdin.end('\nput k v\n\n\n');
  const code = await closed;
  return { stdout: out, stderr: scrubLog(err).replaceAll(endpoint, '<endpoint>'), code };
}

// Our server has no JWT tokens (simple tokens carry no auth revision, so a stale one
// cannot be produced on demand): real etcd with --auth-token jwt on both sides.
describe('auth retry after `revision of auth store is old` (JWT tokens)', { skip: skipInServe('needs JWT tokens, which our server does not issue') }, () => {
  let dir = '';
  let servers: EtcdProcess[] = [];
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcdctl-jwt-'));
    const { publicKey, privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    });
    fs.writeFileSync(path.join(dir, 'jwt.pub'), publicKey);
    fs.writeFileSync(path.join(dir, 'jwt.key'), privateKey);
    const jwt = `--auth-token=jwt,pub-key=${path.join(dir, 'jwt.pub')},priv-key=${path.join(dir, 'jwt.key')},sign-method=RS256`;
    servers = await Promise.all([0, 1].map(() => startEtcd({ serverKind: 'real', extraArgs: [jwt] })));
    for (const s of servers) {
      for (const args of [['user', 'add', 'root:rootpw'], ['auth', 'enable']]) {
        execFileSync(REAL, [`--endpoints=${s.endpoint}`, ...args], { stdio: 'ignore' });
      }
    }
  });
  after(async () => {
    await stopAll(...servers);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('an auth change after authenticating: authenticate again and resend (logged once)', async () => {
    const change = { args: ['role', 'add', 'r1'] };
    const [real, ours] = await Promise.all([txnAfterAuthChange(REAL, servers[0]!.endpoint, change), txnAfterAuthChange(OURS, servers[1]!.endpoint, change)]);
    assert.deepEqual(ours, real);
    assert.match(real.stderr, /"error":"rpc error: code = InvalidArgument desc = etcdserver: revision of auth store is old"/);
    assert.equal(real.code, 0);
  });

  test('the password changed meanwhile: the new Authenticate fails and is the error', async () => {
    const change = { args: ['user', 'passwd', 'root', '--interactive=false'], input: 'newpw\n' };
    const [real, ours] = await Promise.all([txnAfterAuthChange(REAL, servers[0]!.endpoint, change), txnAfterAuthChange(OURS, servers[1]!.endpoint, change)]);
    assert.deepEqual(ours, real);
    assert.match(real.stderr, /"msg":"retrying of unary invoker failed to fetch new auth token"/);
    assert.equal(real.code, 1);
  });

  // (runs after the test above: root's password is now newpw)
  test('watch -i: a watch refused for a stale token reopens the stream with a new token', async () => {
    const watchers = async (s: EtcdProcess) => {
      const m = await (await fetch(`${s.clientURL}/metrics`)).text();
      return Number(/^etcd_debugging_mvcc_watcher_total (\d+)/m.exec(m)?.[1] ?? 0);
    };
    const waitUntil = async (what: string, cond: () => Promise<boolean> | boolean) => {
      const end = Date.now() + 60_000;
      while (!(await cond())) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const run = async (bin: string, s: EtcdProcess) => {
      const ctl = (...args: string[]) => execFileSync(REAL, [`--endpoints=${s.endpoint}`, '--user', 'root:newpw', ...args], { stdio: 'ignore' });
      const child = spawn(bin, [`--endpoints=${s.endpoint}`, ...SLACK, '--user', 'root:newpw', 'watch', '-i'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
      try {
        child.stdin.write('watch wa\n');
        await waitUntil('the first watch', async () => (await watchers(s)) >= 1);
        ctl('role', 'add', 'r2'); // the stream's token is stale from now on
        child.stdin.write('watch wb\n');
        // the new stream has both watches; the old one stays open with the first
        await waitUntil('both watches on a new stream', async () => (await watchers(s)) >= 3);
        ctl('put', 'wa', '1');
        await waitUntil('the event of wa from both streams', () => out.includes('PUT\nwa\n1\nPUT\nwa\n1\n'));
        ctl('put', 'wb', '2');
        await waitUntil('the event of wb', () => out.includes('wb\n2\n'));
      } finally {
        child.kill('SIGINT');
      }
      await closed;
      return { stdout: out, stderr: scrubLog(err).replaceAll(s.endpoint, '<endpoint>') };
    };
    const real = await run(REAL, servers[0]!);
    const ours = await run(OURS, servers[1]!);
    assert.deepEqual(ours, real);
    // etcdctl 3.4 leaves the old stream open: the first watch's event comes twice
    assert.equal(real.stdout, 'PUT\nwa\n1\nPUT\nwa\n1\nPUT\nwb\n2\n');
  });
});
