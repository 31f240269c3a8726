// --auth-token jwt,...: real etcd 3.4.23 and our server started with the same
// options and keys (made by openssl here). The real etcdctl authenticates and
// operates against both; tokens issued by one are accepted by the other (same key,
// same claims); bad options fail the start with etcd's errors.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  AuthenticateRequestSchema, AuthenticateResponseSchema, RangeRequestSchema, RangeResponseSchema,
} from '../../../src/gen/etcdserverpb/rpc_pb.js';
import { ETCD_BIN, OUR_ETCD_BIN, startOurEtcd, startRealEtcd, stopAll, type EtcdProcess } from '../../harness/etcd.js';
import { getFreePort } from '../../harness/ports.js';
import { REAL, runCli, stripLogLines } from '../../harness/run.js';
import { RawClient } from './grpc-raw.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-jwt-'));
const f = (n: string) => path.join(dir, n);

/** RSA and EC key pairs and an HMAC secret, by openssl. */
function makeKeys(): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'rsa.key');
  ssl('pkey', '-in', 'rsa.key', '-pubout', '-out', 'rsa.pub');
  ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ec.key');
  ssl('pkey', '-in', 'ec.key', '-pubout', '-out', 'ec.pub');
  fs.writeFileSync(f('hmac.secret'), 'a shared secret of some length\n');
}

const decodePart = (tok: string, i: number): Record<string, unknown> => JSON.parse(Buffer.from(tok.split('.')[i]!, 'base64url').toString('utf8'));

/** The etcdctl steps of one server: set up auth, operate as root and as a user. */
async function scenario(s: EtcdProcess): Promise<string[]> {
  const out: string[] = [];
  const steps: string[][] = [
    ['user', 'add', 'root:rootpw'], ['user', 'grant-role', 'root', 'root'],
    ['role', 'add', 'r'], ['role', 'grant-permission', 'r', 'readwrite', 'a', '--prefix'],
    ['user', 'add', 'u:upw'], ['user', 'grant-role', 'u', 'r'], ['auth', 'enable'],
    ['--user=root:rootpw', 'put', 'a1', 'v1'], ['--user=u:upw', 'put', 'a2', 'v2'], ['--user=u:upw', 'put', 'b', 'x'],
    ['--user=u:upw', 'get', 'a', '--prefix'], ['get', 'a1'], ['--user=u:wrong', 'get', 'a1'],
    // the auth revision moves on: the user's next token carries the new revision
    ['--user=root:rootpw', 'role', 'grant-permission', 'r', 'read', 'b'], ['--user=u:upw', 'get', 'b'],
    ['--user=root:rootpw', 'user', 'list'], ['--user=root:rootpw', 'endpoint', 'hashkv'],
  ];
  for (const args of steps) {
    const r = await runCli(REAL, [`--endpoints=${s.endpoint}`, ...args]);
    out.push(`${args.join(' ')} → ${r.code} ${r.stdout.toString().split(s.endpoint).join('EP').replace(/, \d+\n/, ', HASH\n')}${stripLogLines(r.stderr)}`);
  }
  return out;
}

const METHODS: Array<[string, string]> = [
  ['RS256', 'sign-method=RS256,priv-key={rsa.key},pub-key={rsa.pub},ttl=10m'],
  ['PS384', 'sign-method=PS384,priv-key={rsa.key}'],
  ['ES256', 'sign-method=ES256,priv-key={ec.key},pub-key={ec.pub},ttl=1h'],
  ['HS512', 'sign-method=HS512,priv-key={hmac.secret},ttl=5m'],
];
const opt = (o: string) => `jwt,${o.replace(/\{([^}]+)\}/g, (_m, n: string) => f(n))}`;

before(makeKeys);
after(() => fs.rmSync(dir, { recursive: true, force: true }));

for (const [name, o] of METHODS) {
  describe(`--auth-token jwt ${name}: ours vs real etcd 3.4.23`, () => {
    let real: EtcdProcess;
    let ours: EtcdProcess;
    before(async () => {
      const extraArgs = [`--auth-token=${opt(o)}`];
      [real, ours] = await Promise.all([startRealEtcd({ extraArgs }), startOurEtcd({ extraArgs })]);
    });
    after(() => stopAll(real, ours));

    test('etcdctl authenticates and operates the same', async () => {
      const [want, got] = await Promise.all([scenario(real), scenario(ours)]);
      assert.ok(want.some((l) => l.includes('permission denied')) && want.some((l) => l.startsWith('--user=u:upw get a --prefix → 0 a1')), want.join('\n'));
      assert.deepEqual(got, want);
    });

    test("tokens of one are accepted by the other, with the same header and claims", async () => {
      const clients = [new RawClient(real.endpoint), new RawClient(ours.endpoint)];
      try {
        const tokens = await Promise.all(clients.map((c) =>
          c.unary('/etcdserverpb.Auth/Authenticate', AuthenticateRequestSchema, { name: 'u', password: 'upw' }, AuthenticateResponseSchema).then((r) => r.token)));
        const [realTok, ourTok] = tokens as [string, string];
        assert.deepEqual(decodePart(ourTok, 0), decodePart(realTok, 0));
        const claims = [decodePart(realTok, 1), decodePart(ourTok, 1)];
        assert.deepEqual(Object.keys(claims[1]!), Object.keys(claims[0]!));
        assert.deepEqual({ ...claims[1], exp: 0 }, { ...claims[0], exp: 0 });
        const range = (c: RawClient, t: string) =>
          c.unary('/etcdserverpb.KV/Range', RangeRequestSchema, { key: new TextEncoder().encode('a1') }, RangeResponseSchema, t).then((r) => r.kvs.length, (e: Error) => e.message);
        // each server with the other's token, and with its own
        assert.deepEqual(
          [await range(clients[1]!, realTok), await range(clients[0]!, ourTok), await range(clients[1]!, ourTok)],
          [await range(clients[0]!, ourTok), await range(clients[1]!, realTok), await range(clients[0]!, realTok)],
        );
        assert.equal(await range(clients[1]!, realTok), 1);
        // a token altered in its signature is refused by both
        const bad = realTok.slice(0, -4) + (realTok.endsWith('AAAA') ? 'BBBB' : 'AAAA');
        assert.deepEqual(await range(clients[1]!, bad), await range(clients[0]!, bad));
      } finally {
        for (const c of clients) c.close();
      }
    });
  });
}

describe('--auth-token jwt with a public key only (verify-only): ours vs real', () => {
  let real: EtcdProcess;
  let ours: EtcdProcess;
  before(async () => {
    const extraArgs = [`--auth-token=${opt('sign-method=RS256,pub-key={rsa.pub}')}`];
    [real, ours] = await Promise.all([startRealEtcd({ extraArgs }), startOurEtcd({ extraArgs })]);
  });
  after(() => stopAll(real, ours));

  test('authentication fails the same way', async () => {
    const run = async (s: EtcdProcess) => {
      const out: string[] = [];
      for (const args of [['user', 'add', 'root:rootpw'], ['user', 'grant-role', 'root', 'root'], ['auth', 'enable'], ['--user=root:rootpw', 'get', 'a']]) {
        const r = await runCli(REAL, [`--endpoints=${s.endpoint}`, ...args]);
        out.push(`${r.code} ${r.stdout.toString()}${stripLogLines(r.stderr)}`);
      }
      return out;
    };
    const [want, got] = await Promise.all([run(real), run(ours)]);
    assert.deepEqual(got, want);
  });
});

describe('bad --auth-token values: ours vs real etcd 3.4.23', () => {
  const BAD = [
    'jwt,sign-method=XX', 'jwt,sign-method=RS256', 'jwt,sign-method=RS256,priv-key=/nonexistent/key',
    'jwt,sign-method=RS256,priv-key={ec.key}', 'jwt,sign-method=ES256,priv-key={rsa.key}', 'jwt,sign-method=RS256,priv-key={rsa.key},ttl=bad',
    'jwt,sign-method=RS256,priv-key={rsa.key},ttl=1m,ttl=2m', 'jwt,sign-method', 'bogus', 'jwt,sign-method=none,priv-key={rsa.key}',
    'jwt,sign-method=HS256', 'jwt,sign-method=RS256,priv-key={rsa.key},pub-key={ec.pub}', 'jwt,sign-method=ES256,pub-key={rsa.pub}',
  ];
  const WATCHED = new Set(['failed to create token provider', 'failed to start etcd', 'discovery failed', 'problem loading JWT options', 'unknown token type', 'invalid token option']);

  /** Starts `bin` with the option; its exit code and the watched log lines (msg, error, option fields). */
  async function start(bin: string, value: string): Promise<{ code: number | null; lines: string[] }> {
    const [c, p] = [await getFreePort(), await getFreePort()];
    const data = fs.mkdtempSync(path.join(dir, 'data-'));
    const r = await runCli(bin, [
      `--data-dir=${data}`, `--listen-client-urls=http://127.0.0.1:${c}`, `--advertise-client-urls=http://127.0.0.1:${c}`,
      `--listen-peer-urls=http://127.0.0.1:${p}`, `--initial-advertise-peer-urls=http://127.0.0.1:${p}`, `--initial-cluster=default=http://127.0.0.1:${p}`,
      '--logger=zap', '--log-outputs=stderr', `--auth-token=${value.replace(/\{([^}]+)\}/g, (_m, n: string) => f(n))}`,
    ], { timeoutMs: 30_000 });
    const lines: string[] = [];
    for (const l of r.stderr.split('\n')) {
      if (!l.startsWith('{')) continue;
      const j = JSON.parse(l) as Record<string, unknown>;
      if (WATCHED.has(j.msg as string)) lines.push(JSON.stringify([j.level, j.msg, j.error, j.option, j['duplicate-parameter'], j.type]));
    }
    return { code: r.code, lines };
  }

  for (const value of BAD) {
    test(`--auth-token=${value}`, async () => {
      const [want, got] = await Promise.all([start(ETCD_BIN, value), start(OUR_ETCD_BIN, value)]);
      assert.equal(want.code, 1);
      assert.deepEqual(got, want);
    });
  }
});

describe('JwtTokenProvider (ours only)', () => {
  test('an RSA key under 2048 bits is refused at startup with a clear error (a deliberate difference: the JOSE library refuses such keys)', async () => {
    const { JwtTokenProvider } = await import('../../../src/server/auth/token-jwt.js');
    execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024', '-out', 'rsa1024.key'], { cwd: dir, stdio: 'pipe' });
    assert.throws(() => JwtTokenProvider.fromOptions(new Map([['sign-method', 'RS256'], ['priv-key', f('rsa1024.key')]])), /shorter than 2048 bits/);
  });

  test('a token is refused once expired and with another algorithm', async () => {
    const { JwtTokenProvider } = await import('../../../src/server/auth/token-jwt.js');
    let now = 1_800_000_000_000;
    const p = JwtTokenProvider.fromOptions(new Map([['sign-method', 'RS256'], ['priv-key', f('rsa.key')], ['ttl', '2s']]), { now: () => now });
    const tok = await p.assign('u', 7n);
    assert.deepEqual(decodePart(tok, 1), { exp: 1_800_000_002, revision: 7, username: 'u' });
    assert.deepEqual(await p.info(tok), { username: 'u', revision: 7n });
    now += 3000;
    assert.equal(await p.info(tok), undefined);
    const hs = JwtTokenProvider.fromOptions(new Map([['sign-method', 'HS256'], ['priv-key', f('rsa.pub')]]), { now: () => now });
    const forged = await hs.assign('root', 7n);
    assert.equal(await p.info(forged), undefined);
  });
});
