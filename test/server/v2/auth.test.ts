// The v2 auth API (/v2/auth/*, --enable-v2) of our etcd against real etcd 3.4.23: the
// same requests, in the same order, to a fresh member of each, and the status, etcd's
// headers (X-Etcd-Index, X-Raft-Index and X-Raft-Term included, so the auth store's
// writes and quorum reads go through Raft as etcd's do) and the body compared byte for
// byte. Covers users, roles, grant/revoke, enable/disable, the root user and the root and
// guest roles, basic auth on /v2/keys (role globs, recursive access, the guest role) and
// on /v2/members writes, and bad input (bad JSON, wrong names, unknown users and roles,
// wrong passwords, malformed credentials, duplicate grants, revoking what was not granted).
// Also: the auth data survives kill -9 and a restart (WAL and snapshots), and with
// --client-cert-auth the CommonName of a certificate of the client's verified chain names
// the user (real etcdctl and ours).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServerUnderTest, realTarget, oursTarget, type ServerTarget } from '../../harness/server-under-test.js';
import { makeTestCerts } from '../../harness/certs.js';
import { startEtcd, stopAll, type EtcdProcess } from '../../harness/etcd.js';
import { OURS, REAL, runCli } from '../../harness/run.js';
import { useV2Pair } from './common.js';
import { normaliseV2, v2Headers, v2Request, type V2Answer } from './v2-http.js';

const pair = useV2Pair();

interface Req {
  method: string;
  path: string;
  /** JSON body (sent as application/json) */
  json?: string;
  /** urlencoded body */
  form?: string;
  /** basic auth "user:password", or a raw Authorization header value with `raw:` */
  auth?: string;
}

function headersOf(r: Req): Record<string, string> {
  if (r.auth === undefined) return {};
  if (r.auth.startsWith('raw:')) return { Authorization: r.auth.slice(4) };
  return { Authorization: 'Basic ' + Buffer.from(r.auth).toString('base64') };
}

async function send(base: string, r: Req): Promise<V2Answer | string> {
  const opts = {
    headers: headersOf(r),
    ...(r.json !== undefined ? { body: r.json, contentType: 'application/json' } : {}),
    ...(r.form !== undefined ? { body: r.form } : {}),
  };
  try {
    return await v2Request(base, r.method, r.path, opts);
  } catch (e) {
    // a Go panic in etcd's handler: the connection is dropped
    return `error: ${(e as Error).message}`;
  }
}

/** Sorts every `nodes` list by key, recursively: etcd lists a directory in Go map order (random) unless asked `sorted=true`. */
function sortNodes(n: unknown): void {
  if (n === null || typeof n !== 'object') return;
  const o = n as { nodes?: { key: string }[]; node?: unknown; prevNode?: unknown };
  if (Array.isArray(o.nodes)) {
    o.nodes.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
    for (const c of o.nodes) sortNodes(c);
  }
  sortNodes(o.node);
  sortNodes(o.prevNode);
}

function view(a: V2Answer | string, urls: string[]): unknown {
  if (typeof a === 'string') return a;
  let body = normaliseV2(a.body, urls);
  if (body.includes('"nodes":')) {
    // directory listings: compared with their entries in key order (the JSON is re-serialised on both sides)
    const parsed = JSON.parse(body) as unknown;
    sortNodes(parsed);
    body = `${JSON.stringify(parsed)} (nodes sorted by the test)`;
  }
  return { status: a.status, headers: v2Headers(a), body };
}

/** Runs `reqs` in order against both members and asserts every answer is the same. */
async function sequence(reqs: Req[]): Promise<unknown[]> {
  const urls = [pair.real!.clientURL, pair.ours!.clientURL];
  const diffs: string[] = [];
  const seen: unknown[] = [];
  for (const r of reqs) {
    const a = view(await send(pair.real!.clientURL, r), urls);
    const b = view(await send(pair.ours!.clientURL, r), urls);
    seen.push(a);
    try {
      assert.deepEqual(b, a);
    } catch {
      diffs.push(`${r.method} ${r.path} ${r.json ?? r.form ?? ''} ${r.auth ?? ''}\n  real: ${JSON.stringify(a)}\n  ours: ${JSON.stringify(b)}`);
    }
  }
  assert.equal(diffs.join('\n'), '');
  return seen;
}

const ROOT = 'root:rootpw';

test('v2 auth: users and roles while auth is off (create, update, grant/revoke, errors), as real etcd', async () => {
  const seen = await sequence([
    { method: 'GET', path: '/v2/auth/enable' },
    { method: 'GET', path: '/v2/auth/users' },
    { method: 'GET', path: '/v2/auth/users/' },
    { method: 'GET', path: '/v2/auth/roles' },
    { method: 'GET', path: '/v2/auth/roles/root' },
    { method: 'GET', path: '/v2/auth/roles/guest' },
    { method: 'GET', path: '/v2/auth/users/nope' },
    { method: 'GET', path: '/v2/keys/' },
    // users
    { method: 'PUT', path: '/v2/auth/users/foo', json: '{"user":"foo","password":"pass"}' },
    { method: 'GET', path: '/v2/keys/' },
    { method: 'PUT', path: '/v2/auth/users/foo', json: '{"user":"foo","password":"again"}' },
    { method: 'PUT', path: '/v2/auth/users/foo', json: '{"user":"foo"}' },
    { method: 'PUT', path: '/v2/auth/users/foo', json: '{"user":"foo","roles":["a"],"password":"p"}' },
    { method: 'PUT', path: '/v2/auth/users/bar', json: '{"user":"bar"}' },
    { method: 'PUT', path: '/v2/auth/users/bar', json: '{"user":"bar","roles":["x","y"]}' },
    { method: 'PUT', path: '/v2/auth/users/bar', json: '{"user":"bar","roles":["x","y"],"password":"b"}' },
    { method: 'PUT', path: '/v2/auth/users/foo', json: '{"user":"bar","password":"p"}' },
    { method: 'PUT', path: '/v2/auth/users/foo', json: '{"user":"foo",' },
    { method: 'PUT', path: '/v2/auth/users/foo', json: '' },
    { method: 'PUT', path: '/v2/auth/users/foo', json: 'null' },
    { method: 'PUT', path: '/v2/auth/users/foo', json: '[]' },
    { method: 'PUT', path: '/v2/auth/users/foo', json: '{"user":"foo","roles":"x"}' },
    { method: 'PUT', path: '/v2/auth/users/foo', json: '{"user":"foo","password":1}' },
    { method: 'PUT', path: '/v2/auth/users/Caps', json: '{"USER":"Caps","Password":"p","unknown":[1,{"a":null}]} trailing junk' },
    { method: 'PUT', path: '/v2/auth/users/foo', json: '{"user":"foo","grant":["r1","r2"]}' },
    { method: 'PUT', path: '/v2/auth/users/foo', json: '{"user":"foo","grant":["r1"]}' },
    { method: 'PUT', path: '/v2/auth/users/foo', json: '{"user":"foo","grant":["r3","r3"]}' },
    { method: 'PUT', path: '/v2/auth/users/foo', json: '{"user":"foo","revoke":["nope"]}' },
    { method: 'PUT', path: '/v2/auth/users/foo', json: '{"user":"foo","revoke":["r%d"]}' },
    { method: 'PUT', path: '/v2/auth/users/foo', json: '{"user":"foo","revoke":["r2"],"grant":["r0"]}' },
    { method: 'PUT', path: '/v2/auth/users/foo', json: '{"user":"foo","roles":["r1"],"grant":["r9"]}' },
    { method: 'PUT', path: '/v2/auth/users/ghost', json: '{"user":"ghost","grant":["r1"]}' },
    { method: 'PUT', path: '/v2/auth/users/foo', json: '{"user":"foo"}' },
    { method: 'PUT', path: '/v2/auth/users/Auto%20CA', json: '{"user":"Auto CA","password":"p"}' },
    { method: 'PUT', path: '/v2/auth/users/a/b', json: '{"user":"a/b","password":"p"}' },
    { method: 'POST', path: '/v2/auth/users/foo', json: '{}' },
    { method: 'POST', path: '/v2/auth/users' },
    { method: 'GET', path: '/v2/auth/users/foo' },
    { method: 'GET', path: '/v2/auth/users/Caps' },
    { method: 'GET', path: '/v2/auth/users/Caps?x=%zz' },
    { method: 'GET', path: '/v2/auth/users' },
    { method: 'DELETE', path: '/v2/auth/users/Caps' },
    { method: 'DELETE', path: '/v2/auth/users/Caps' },
    // roles
    { method: 'PUT', path: '/v2/auth/roles/r1', json: '{"role":"r1","permissions":{"kv":{"read":["/foo/*"]}}}' },
    { method: 'PUT', path: '/v2/auth/roles/r1', json: '{"role":"r1"}' },
    { method: 'PUT', path: '/v2/auth/roles/root', json: '{"role":"root"}' },
    { method: 'PUT', path: '/v2/auth/roles/root', json: '{"role":"root","grant":{"kv":{"read":["/x"]}}}' },
    { method: 'PUT', path: '/v2/auth/roles/r2', json: '{"role":"r2","grant":{}}' },
    { method: 'PUT', path: '/v2/auth/roles/r3', json: '{"role":"r3","grant":{"kv":{"read":["/a"]}}}' },
    { method: 'PUT', path: '/v2/auth/roles/r1', json: '{"role":"r1","grant":{"kv":{"write":["/foo/w","/foo/a*"]}}}' },
    { method: 'PUT', path: '/v2/auth/roles/r1', json: '{"role":"r1","grant":{"kv":{"read":["/foo/*"]}}}' },
    { method: 'PUT', path: '/v2/auth/roles/r1', json: '{"role":"r1","revoke":{"kv":{"read":["/nope"],"write":["/foo/w"]}}}' },
    { method: 'PUT', path: '/v2/auth/roles/r1', json: '{"role":"r1","revoke":{"kv":{"read":["/nope"]}}}' },
    { method: 'PUT', path: '/v2/auth/roles/r1', json: '{"role":"r1","permissions":{"kv":{"read":["/q"]}},"grant":{"kv":{"read":["/z"]}}}' },
    { method: 'PUT', path: '/v2/auth/roles/r1', json: '{"role":"r2"}' },
    { method: 'PUT', path: '/v2/auth/roles/r1', json: '{"role":' },
    { method: 'PUT', path: '/v2/auth/roles/r1', json: '{"role":"r1","permissions":{"kv":{"read":"x"}}}' },
    { method: 'PUT', path: '/v2/auth/roles/r4', json: '{"Role":"r4","PERMISSIONS":{"KV":{"Write":["/w"]}}}' },
    { method: 'GET', path: '/v2/auth/roles/r1' },
    { method: 'GET', path: '/v2/auth/roles/r2' },
    { method: 'GET', path: '/v2/auth/roles/nope' },
    { method: 'GET', path: '/v2/auth/roles' },
    { method: 'GET', path: '/v2/auth/roles/' },
    { method: 'GET', path: '/v2/auth/roles/a/b' },
    { method: 'POST', path: '/v2/auth/roles' },
    { method: 'PATCH', path: '/v2/auth/roles/r1' },
    { method: 'DELETE', path: '/v2/auth/roles/root' },
    { method: 'DELETE', path: '/v2/auth/roles/r4' },
    { method: 'DELETE', path: '/v2/auth/roles/r4' },
    // a user's roles: one missing (GET of the user fails, the list skips it)
    { method: 'GET', path: '/v2/auth/users/foo' },
    { method: 'PUT', path: '/v2/auth/users/foo', json: '{"user":"foo","revoke":["r0"]}' },
    { method: 'GET', path: '/v2/auth/users/foo' },
    { method: 'GET', path: '/v2/auth/users' },
    { method: 'GET', path: '/v2/auth/enable/x' },
    { method: 'GET', path: '/v2/auth' },
    { method: 'GET', path: '/v2/keys/' },
    { method: 'GET', path: '/v2/stats/store' },
  ]);
  assert.match(JSON.stringify(seen[8]), /"status":201.*\{\\"user\\":\\"foo\\",\\"roles\\":null\}\\n/);
});

test('v2 auth: enable, basic auth on /v2/auth, /v2/keys and /v2/members, guest role, disable, as real etcd', async () => {
  const seen = await sequence([
    { method: 'PUT', path: '/v2/auth/enable' },
    { method: 'DELETE', path: '/v2/auth/enable' },
    { method: 'POST', path: '/v2/auth/enable' },
    { method: 'PUT', path: '/v2/auth/users/root', json: '{"user":"root","password":"rootpw"}' },
    { method: 'GET', path: '/v2/auth/users/root' },
    { method: 'PUT', path: '/v2/auth/users/root', json: '{"user":"root","revoke":["root"]}' },
    { method: 'GET', path: '/v2/keys/' },
    { method: 'PUT', path: '/v2/auth/enable' },
    { method: 'GET', path: '/v2/keys/' },
    { method: 'GET', path: '/v2/auth/enable' },
    { method: 'PUT', path: '/v2/auth/enable' },
    { method: 'PUT', path: '/v2/auth/enable', auth: ROOT },
    { method: 'GET', path: '/v2/auth/roles/guest', auth: ROOT },
    { method: 'GET', path: '/v2/auth/users' },
    { method: 'GET', path: '/v2/auth/users', auth: 'root:wrong' },
    { method: 'GET', path: '/v2/auth/users', auth: 'foo:again' },
    { method: 'GET', path: '/v2/auth/users', auth: 'nobody:x' },
    { method: 'GET', path: '/v2/auth/users', auth: 'raw:Basic !!!' },
    { method: 'GET', path: '/v2/auth/users', auth: 'raw:Bearer abc' },
    { method: 'GET', path: '/v2/auth/users', auth: 'raw:bAsIc ' + Buffer.from(ROOT).toString('base64') },
    { method: 'GET', path: '/v2/auth/users', auth: ROOT },
    { method: 'GET', path: '/v2/auth/roles', auth: ROOT },
    { method: 'GET', path: '/v2/auth/users/foo', auth: ROOT },
    { method: 'DELETE', path: '/v2/auth/users/root', auth: ROOT },
    { method: 'PUT', path: '/v2/auth/users/foo', json: '{"user":"foo","password":"x"}', auth: 'foo:again' },
    // the guest role (read/write /* by default) serves requests without credentials
    { method: 'PUT', path: '/v2/keys/open', form: 'value=1' },
    { method: 'GET', path: '/v2/keys/open' },
    { method: 'PUT', path: '/v2/auth/roles/guest', json: '{"role":"guest","revoke":{"kv":{"write":["/*"]}}}', auth: ROOT },
    { method: 'PUT', path: '/v2/keys/open', form: 'value=2' },
    { method: 'GET', path: '/v2/keys/open' },
    { method: 'GET', path: '/v2/keys/open?recursive=true' },
    // foo: read /foo/*, write /foo/w and /foo/a* (r1)
    { method: 'PUT', path: '/v2/keys/foo/w', form: 'value=w', auth: 'foo:again' },
    { method: 'PUT', path: '/v2/keys/foo/abc', form: 'value=a', auth: 'foo:again' },
    { method: 'PUT', path: '/v2/keys/foo/x', form: 'value=x', auth: 'foo:again' },
    { method: 'PUT', path: '/v2/keys/foo/x', form: 'value=x', auth: ROOT },
    { method: 'GET', path: '/v2/keys/foo/x', auth: 'foo:again' },
    { method: 'GET', path: '/v2/keys/foo/', auth: 'foo:again' },
    { method: 'GET', path: '/v2/keys/foo', auth: 'foo:again' },
    { method: 'GET', path: '/v2/keys/foo/?recursive=true', auth: 'foo:again' },
    { method: 'GET', path: '/v2/keys/foo?recursive=true', auth: 'foo:again' },
    { method: 'DELETE', path: '/v2/keys/foo/abc', auth: 'foo:again' },
    { method: 'GET', path: '/v2/keys/foo/x', auth: 'foo:wrong' },
    { method: 'GET', path: '/v2/keys/foo/x', auth: 'raw:Basic Zm9v' },
    { method: 'GET', path: '/v2/keys/foo/x?wait=true&waitIndex=1', auth: 'foo:again' },
    { method: 'PUT', path: '/v2/keys/foo/x?ttl=x', form: 'value=x', auth: 'foo:again' },
    // a name that is a directory of the store: etcd's handler panics, the connection drops
    { method: 'GET', path: '/v2/keys/foo/x', auth: ':x' },
    // members: writes need root
    { method: 'GET', path: '/v2/members' },
    { method: 'POST', path: '/v2/members', json: '{"peerURLs":["http://127.0.0.1:1"]}' },
    { method: 'DELETE', path: '/v2/members/1234', auth: 'foo:again' },
    { method: 'DELETE', path: '/v2/members/1234', auth: ROOT },
    { method: 'DELETE', path: '/v2/auth/enable', auth: 'foo:again' },
    { method: 'DELETE', path: '/v2/auth/enable', auth: ROOT },
    { method: 'DELETE', path: '/v2/auth/enable' },
    { method: 'GET', path: '/v2/auth/enable' },
    { method: 'PUT', path: '/v2/keys/open', form: 'value=3' },
    { method: 'DELETE', path: '/v2/auth/users/root' },
    { method: 'GET', path: '/v2/auth/users' },
    { method: 'GET', path: '/v2/stats/store' },
  ]);
  assert.match(JSON.stringify(seen[28]), /"status":401.*errorCode.{1,4}110/);
});

// ---- persistence ----

const url = (s: ServerUnderTest) => `http://${s.endpoint}`;
const rootAuth = { Authorization: 'Basic ' + Buffer.from(ROOT).toString('base64') };

async function state(s: ServerUnderTest): Promise<string[]> {
  const out: string[] = [];
  for (const [p, h] of [
    ['/v2/auth/enable', {}],
    ['/v2/auth/users', rootAuth],
    ['/v2/auth/roles', rootAuth],
    ['/v2/auth/users', {}],
    ['/v2/keys/k', {}],
    ['/v2/keys/k', { Authorization: 'Basic ' + Buffer.from('u:upw').toString('base64') }],
  ] as const) {
    const a = await v2Request(url(s), 'GET', p, { headers: h });
    out.push(`${a.status} ${a.headers['x-etcd-index'] ?? ''} ${a.body}`);
  }
  return out;
}

async function persistence(target: ServerTarget): Promise<string[]> {
  const s = await ServerUnderTest.start(target, { extraArgs: ['--enable-v2', '--snapshot-count=5'] });
  const out: string[] = [];
  try {
    const put = (p: string, json: string, headers: Record<string, string> = {}) =>
      v2Request(url(s), 'PUT', p, { body: json, contentType: 'application/json', headers });
    await v2Request(url(s), 'PUT', '/v2/keys/k', { body: 'value=v' });
    await put('/v2/auth/users/root', '{"user":"root","password":"rootpw"}');
    await put('/v2/auth/roles/reader', '{"role":"reader","permissions":{"kv":{"read":["/k"],"write":[]}}}');
    await put('/v2/auth/users/u', '{"user":"u","password":"upw","roles":["reader"]}');
    await put('/v2/auth/roles/guest', '{"role":"guest","permissions":{"kv":{"read":[],"write":[]}}}');
    await put('/v2/auth/enable', '');
    out.push(...(await state(s)));
    await s.kill9();
    await s.restart();
    out.push('after kill -9', ...(await state(s)));
    // the first write of the new process creates the /2 directories again (failing)
    const w = await put('/v2/auth/users/u2', '{"user":"u2","password":"p"}', rootAuth);
    out.push(`${w.status} ${w.body}`);
    const k = await v2Request(url(s), 'PUT', '/v2/keys/k', { body: 'value=v2', headers: rootAuth });
    out.push(`${k.status} ${k.headers['x-etcd-index']} ${k.headers['x-raft-index']}`);
    await s.kill9();
    await s.restart();
    out.push('after second restart', ...(await state(s)));
  } finally {
    await s.stop();
  }
  return out;
}

test('v2 auth data survives kill -9 and restart (WAL, snapshots), as real etcd', async () => {
  const ours = oursTarget();
  assert.ok(ours, 'our server is not built');
  const [a, b] = await Promise.all([persistence(realTarget()), persistence(ours)]);
  assert.deepEqual(b, a);
  assert.match(a[0]!, /"enabled":true/);
  assert.match(a[7]!, /"enabled":true/);
});

// ---- --client-cert-auth: the CommonName of the client's verified chain names the user ----

test('v2 auth with --client-cert-auth: the certificate CommonName is the user (real etcdctl and ours), as real etcd', async () => {
  const certs = await makeTestCerts();
  const tls = { certFile: certs.serverCert, keyFile: certs.serverKey, trustedCAFile: certs.caCert, clientCertAuth: true };
  const [real, ours] = await Promise.all([
    startEtcd({ serverKind: 'real', tls, extraArgs: ['--enable-v2'] }),
    startEtcd({ serverKind: 'ours', tls, extraArgs: ['--enable-v2'] }),
  ]);
  try {
    // the client certificate's CN is "root", its CA's "etcd-test-ca"
    const tlsArgs = ['--ca-file', certs.caCert, '--cert-file', certs.clientCert, '--key-file', certs.clientKey];
    const steps: string[][] = [
      ['role', 'add', 'testrole'],
      ['role', 'grant', 'testrole', '--rw', '--path=/foo'],
      ['user', 'add', 'etcd-test-ca:123'],
      ['user', 'grant', 'etcd-test-ca', '--roles', 'testrole'],
      ['set', '/foo', 'bar'],
      ['user', 'add', 'root:123'],
      ['auth', 'enable'],
      // the leaf's CN (root) is the user: root may do anything
      ['set', '/foo', 'bar2'],
      ['set', '/other', 'x'],
      ['user', 'list'],
      ['user', 'remove', 'root'],
      // basic auth wins over the certificate
      ['-u', 'etcd-test-ca:123', 'set', '/foo', 'bar3'],
      ['-u', 'etcd-test-ca:123', 'set', '/other', 'y'],
      ['-u', 'etcd-test-ca:123', 'user', 'list'],
      ['-u', 'etcd-test-ca:bad', 'get', '/foo'],
      ['get', '/foo'],
      ['auth', 'disable'],
      ['user', 'remove', 'root'],
      ['user', 'list'],
    ];
    const run = async (bin: string, s: EtcdProcess): Promise<string[]> => {
      const out: string[] = [];
      for (const a of steps) {
        const r = await runCli(bin, ['--endpoints', s.clientURL, ...tlsArgs, ...a], { env: { ETCDCTL_API: '2' } });
        out.push(`${a.join(' ')} [${r.code}] ${r.stdout.toString().split(s.clientURL).join('<url>')}${r.stderr.split(s.clientURL).join('<url>')}`);
      }
      return out;
    };
    const a = await run(REAL, real);
    const b = await run(REAL, ours);
    assert.deepEqual(b, a);
    assert.match(a[8]!, /\[0\]/);
    assert.match(a[10]!, /Cannot delete root user while auth is enabled/);
    assert.match(a[12]!, /\[4\]/);
    // our etcdctl, on both servers, restarted from the same state
    for (const s of [real, ours]) {
      await runCli(REAL, ['--endpoints', s.clientURL, ...tlsArgs, 'user', 'add', 'root:123'], { env: { ETCDCTL_API: '2' } });
    }
    const more: string[][] = [['auth', 'enable'], ['set', '/other', 'z'], ['-u', 'etcd-test-ca:123', 'set', '/other', 'y'], ['role', 'get', 'testrole'], ['auth', 'disable']];
    const run2 = async (bin: string, s: EtcdProcess): Promise<string[]> => {
      const out: string[] = [];
      for (const x of more) {
        const r = await runCli(bin, ['--endpoints', s.clientURL, ...tlsArgs, ...x], { env: { ETCDCTL_API: '2' } });
        out.push(`${x.join(' ')} [${r.code}] ${r.stdout.toString().split(s.clientURL).join('<url>')}${r.stderr.split(s.clientURL).join('<url>')}`);
      }
      return out;
    };
    const c = await run2(REAL, real);
    const d = await run2(OURS, ours);
    assert.deepEqual(d, c);
  } finally {
    await stopAll(real, ours);
  }
});
