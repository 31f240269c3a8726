// v3rpc, etcdhttp and embed/serve against a fake EtcdServerApi, with the real
// etcdctl 3.4.23 as client: request checks, error mapping (code + message as
// real etcd sends them: rpctypes/error.go), watch, lease keepalive, snapshot
// stream, /health /version /metrics, HTTP/2-vs-HTTP/1 sniffing, TLS.

import { EtcdClient } from '../../../src/client/client.js';
import { create } from '@bufbuild/protobuf';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RequestOpSchema, TxnRequestSchema, WatchResponseSchema, type RequestOp } from '../../../src/gen/etcdserverpb/rpc_pb.js';
import { EventSchema } from '../../../src/gen/mvccpb/kv_pb.js';
import type { EmbedConfig } from '../../../src/server/embed/config-types.js';
import { serveClients, type ClientServers } from '../../../src/server/embed/serve.js';
import { checkIntervals, checkPutRequest, checkTxnRequest } from '../../../src/server/etcdserver/api/v3rpc/key.js';
import { invalidPeerURLs } from '../../../src/server/etcdserver/api/v3rpc/member.js';
import { Code } from '../../../src/server/etcdserver/api/v3rpc/rpctypes/error.js';
import { togRPCError } from '../../../src/server/etcdserver/api/v3rpc/util.js';
import { fragmentResponse } from '../../../src/server/etcdserver/api/v3rpc/watch.js';
import { makeTestCerts } from '../../harness/certs.js';
import { errorLine, REAL, runCli } from '../../harness/run.js';
import { FakeServer, sentinelByName } from './fake-server.js';

const enc = new TextEncoder();
const put = (k: string): RequestOp => create(RequestOpSchema, { request: { case: 'requestPut', value: { key: enc.encode(k) } } });
const del = (k: string, end = ''): RequestOp => create(RequestOpSchema, { request: { case: 'requestDeleteRange', value: { key: enc.encode(k), rangeEnd: enc.encode(end) } } });
const txn = (success: RequestOp[], failure: RequestOp[] = []): RequestOp => create(RequestOpSchema, { request: { case: 'requestTxn', value: { success, failure } } });
const msgOf = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
};

const silent = { info: () => {}, warn: () => {} };

function config(over: Partial<EmbedConfig> = {}): EmbedConfig {
  return {
    listenClientUrls: [new URL('http://127.0.0.1:0')],
    listenMetricsUrls: [],
    clientTls: { certFile: '', keyFile: '', trustedCaFile: '', clientCertAuth: false, autoTls: false, crlFile: '', allowedCn: '' },
    electionMs: 1000,
    dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'v3rpc-')),
    ...over,
  } as EmbedConfig;
}

describe('key.go request checks', () => {
  it('checkPutRequest', () => {
    assert.equal(msgOf(() => checkPutRequest({ key: new Uint8Array(0) } as never)), 'etcdserver: key is not provided');
    assert.equal(msgOf(() => checkPutRequest({ key: enc.encode('a'), ignoreValue: true, value: enc.encode('v'), lease: 0n } as never)), 'etcdserver: value is provided');
    assert.equal(msgOf(() => checkPutRequest({ key: enc.encode('a'), ignoreLease: true, value: new Uint8Array(0), lease: 5n } as never)), 'etcdserver: lease is provided');
  });
  it('checkTxnRequest: op counts, empty compare key, empty op, nested budget', () => {
    const many = Array.from({ length: 3 }, (_, i) => put(`k${i}`));
    assert.equal(msgOf(() => checkTxnRequest(create(TxnRequestSchema, { success: many }), 2)), 'etcdserver: too many operations in txn request');
    assert.equal(msgOf(() => checkTxnRequest(create(TxnRequestSchema, { success: many }), 3)), undefined);
    assert.equal(msgOf(() => checkTxnRequest(create(TxnRequestSchema, { compare: [{ key: new Uint8Array(0) }] }), 3)), 'etcdserver: key is not provided');
    assert.equal(msgOf(() => checkTxnRequest(create(TxnRequestSchema, { success: [create(RequestOpSchema, {})] }), 3)), 'etcdserver: key not found');
    // nested txn checked against maxTxnOps - this level's largest count: 3 - 2 = 1 < 2
    assert.equal(msgOf(() => checkTxnRequest(create(TxnRequestSchema, { success: [put('a'), txn([put('b'), put('c')])] }), 3)), 'etcdserver: too many operations in txn request');
  });
  it('checkIntervals: duplicate puts, put inside a delete, then/else exclusivity', () => {
    const dup = 'etcdserver: duplicate key given in txn request';
    assert.equal(msgOf(() => checkIntervals([put('a'), put('a')])), dup);
    assert.equal(msgOf(() => checkIntervals([del('a', 'c'), put('b')])), dup);
    assert.equal(msgOf(() => checkIntervals([del('a', 'c'), put('c')])), undefined);
    assert.equal(msgOf(() => checkIntervals([del('b'), put('b')])), dup);
    assert.equal(msgOf(() => checkIntervals([txn([put('x')], [put('x')])])), undefined);
    assert.equal(msgOf(() => checkIntervals([txn([put('x')]), put('x')])), dup);
    assert.equal(msgOf(() => checkIntervals([txn([del('a', 'z')]), put('m')])), dup);
    assert.equal(msgOf(() => checkIntervals([txn([put('x')]), txn([], [put('x')])])), dup);
    // etcd 3.4: a from-key delete ([k, "\0")) overlaps nothing
    assert.equal(msgOf(() => checkIntervals([del('a', '\0'), put('b')])), undefined);
  });
});

describe('togRPCError', () => {
  const cases: [string, number, string][] = [
    ['ErrCompacted', Code.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted'],
    ['ErrNoSpace', Code.RESOURCE_EXHAUSTED, 'etcdserver: mvcc: database space exceeded'],
    ['ErrTooManyRequests', Code.UNKNOWN, 'etcdserver: too many requests'],
    ['ErrNotEnoughStartedMembers', Code.UNKNOWN, 'etcdserver: re-configuration failed due to not enough started members'],
    ['ErrIDRemoved', Code.NOT_FOUND, 'etcdserver: member not found'],
    ['ErrLeaseNotFound', Code.NOT_FOUND, 'etcdserver: requested lease not found'],
    ['ErrInvalidAuthToken', Code.UNAUTHENTICATED, 'etcdserver: invalid auth token'],
    ['ErrNoLeader', Code.UNAVAILABLE, 'etcdserver: no leader'],
    ['ErrNotLeader', Code.FAILED_PRECONDITION, 'etcdserver: not leader'],
    ['ErrCorrupt', Code.DATA_LOSS, 'etcdserver: corrupt cluster'],
    ['ErrAuthOldRevision', Code.INVALID_ARGUMENT, 'etcdserver: revision of auth store is old'],
    // not in etcd's table: code Unknown with the error's own message
    ['ErrTimeoutLeaderTransfer', Code.UNKNOWN, 'etcdserver: request timed out, leader transfer took too long'],
    ['ErrNoPasswordUser', Code.UNKNOWN, 'auth: authentication failed, password was given for no password user'],
  ];
  for (const [name, code, msg] of cases) {
    it(name, () => {
      const st = togRPCError(sentinelByName(name));
      assert.deepEqual([st.code, st.details], [code, msg]);
    });
  }
});

describe('member.go peer URL check (types.NewURLs)', () => {
  it('accepts host:port URLs of the 4 schemes, rejects paths, bad schemes, missing ports', () => {
    assert.equal(invalidPeerURLs(['http://10.0.0.1:2380', ' https://[::1]:2380 ', 'unix://sock:1']), undefined);
    assert.equal(invalidPeerURLs([]), 'no valid URLs given');
    assert.equal(invalidPeerURLs(['http://10.0.0.1:2380/p']), 'URL must not contain a path: http://10.0.0.1:2380/p');
    assert.equal(invalidPeerURLs(['ftp://h:1']), 'URL scheme must be http, https, unix, or unixs: ftp://h:1');
    assert.equal(invalidPeerURLs(['http://h']), 'URL address does not have the form "host:port": http://h');
  });
});

describe('watch fragments (watch.go sendFragments)', () => {
  it('splits at the byte limit, fragment=true on all but the last', () => {
    const events = Array.from({ length: 10 }, (_, i) => create(EventSchema, { kv: { key: enc.encode(`k${i}`), value: new Uint8Array(100) } }));
    const wr = create(WatchResponseSchema, { watchId: 1n, events });
    assert.equal(fragmentResponse(wr, 1_000_000).length, 1);
    const parts = fragmentResponse(wr, 400);
    assert.ok(parts.length > 1);
    assert.deepEqual(parts.flatMap((p) => p.events), events);
    assert.deepEqual(parts.map((p) => p.fragment), [...parts.slice(1).map(() => true), false]);
    const one = fragmentResponse(create(WatchResponseSchema, { events: events.slice(0, 1) }), 10);
    assert.equal(one.length, 1);
  });
});

describe('serveClients with real etcdctl', () => {
  let fake: FakeServer;
  let srv: ClientServers;
  let ep: string;
  let base: string;
  const snapBytes = new Uint8Array(196 * 512).map((_, i) => (i * 7) & 0xff);
  before(async () => {
    fake = new FakeServer({ snapshotBytes: snapBytes, limits: { maxTxnOps: 4 } });
    srv = await serveClients(config(), fake, silent);
    ep = `127.0.0.1:${srv.addresses[0]!.port}`;
    base = `http://${ep}`;
  });
  after(async () => {
    await srv.close();
    fake.store.close();
  });
  const ctl = (...args: string[]) => runCli(REAL, [`--endpoints=${ep}`, '--command-timeout=3s', ...args], { timeoutMs: 15_000 });

  it('serves put/get through the sniffed HTTP/2 path', async () => {
    assert.equal((await ctl('put', 'foo', 'bar')).stdout.toString(), 'OK\n');
    assert.equal((await ctl('get', 'foo')).stdout.toString(), 'foo\nbar\n');
  });

  it('errors reach etcdctl as real etcd sends them', async () => {
    const expect: [string[], string][] = [
      [['put', 'err/ErrNoSpace', 'v'], 'Error: etcdserver: mvcc: database space exceeded'],
      [['get', 'err/ErrFutureRev'], 'Error: etcdserver: mvcc: required revision is a future revision'],
      [['put', 'err/ErrTooManyRequests', 'v'], 'Error: etcdserver: too many requests'],
      [['put', 'err/ErrTimeoutLeaderTransfer', 'v'], 'Error: rpc error: code = Unknown desc = etcdserver: request timed out, leader transfer took too long'],
      [['lease', 'revoke', '55'], 'Error: failed to revoke lease (etcdserver: requested lease not found)'],
      [['alarm', 'list'], 'Error: rpc error: code = Unknown desc = auth: permission denied'],
      [['role', 'delete', 'x'], 'Error: etcdserver: invalid auth management'],
      [['user', 'add', 'u:p'], 'Error: etcdserver: user name already exists'],
      [['member', 'add', 'm', '--peer-urls=http://10.0.0.1:2380'], 'Error: etcdserver: Peer URLs already exists'],
      [['member', 'remove', '99'], 'Error: etcdserver: member not found'],
      [['txn'], 'Error: etcdserver: duplicate key given in txn request'],
    ];
    for (const [args, want] of expect) {
      const stdin = args[0] === 'txn' ? '\nput a 1\nput a 2\n\n\n' : undefined;
      const r = await runCli(REAL, [`--endpoints=${ep}`, '--command-timeout=3s', ...args], { stdin, timeoutMs: 15_000 });
      assert.equal(errorLine(r.stderr), want, args.join(' '));
    }
    const tooMany = await runCli(REAL, [`--endpoints=${ep}`, 'txn'], { stdin: '\nput a 1\nput b 1\nput c 1\nput d 1\nput e 1\n\n\n', timeoutMs: 15_000 });
    assert.equal(errorLine(tooMany.stderr), 'Error: etcdserver: too many operations in txn request');
  });

  it('lease: TTL -1 for an unknown lease, keepalive answers', async () => {
    const ttl = JSON.parse((await ctl('-w', 'json', 'lease', 'timetolive', '55')).stdout.toString());
    assert.equal(ttl.ttl, -1);
    assert.equal(ttl.cluster_id, 0xc1);
    assert.equal(ttl.raft_term, 7);
    const ka = await ctl('lease', 'keep-alive', '--once', '1234');
    assert.equal(ka.stdout.toString(), 'lease 0000000000001234 keepalived with TTL(60)\n');
    const gone = await ctl('lease', 'keep-alive', '--once', '99');
    // TTL 0 answer → clientv3 KeepAliveOnce returns ErrLeaseNotFound
    assert.equal(errorLine(gone.stderr), 'Error: etcdserver: requested lease not found');
  });

  it('snapshot: 32 KiB chunks then the sha256, accepted by etcdctl snapshot save', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'v3rpc-snap-')), 'db');
    const r = await ctl('snapshot', 'save', file);
    assert.match(r.stdout.toString() + r.stderr, /Snapshot saved at/, r.stderr);
    const got = fs.readFileSync(file);
    assert.equal(got.length, snapBytes.length + 32);
    assert.deepEqual(got.subarray(0, snapBytes.length), Buffer.from(snapBytes));
    assert.deepEqual(got.subarray(snapBytes.length), createHash('sha256').update(snapBytes).digest());
  });

  it('watch: events, prev_kv, denied keys get a created+canceled response', async () => {
    const w = runCli(REAL, [`--endpoints=${ep}`, 'watch', '--prev-kv', 'wk'], { timeoutMs: 3000 });
    await new Promise((r) => setTimeout(r, 700));
    await ctl('put', 'wk', 'v1');
    await ctl('put', 'wk', 'v2');
    const out = (await w).stdout.toString();
    assert.equal(out, 'PUT\nwk\nv1\nPUT\nwk\nv1\nwk\nv2\n');
    const denied = await runCli(REAL, [`--endpoints=${ep}`, 'watch', 'secret/x'], { timeoutMs: 5000 });
    assert.match(denied.stderr, /watch is canceled by the server|permission denied/);
  });

  it('HTTP on the same port: /health, /version, /metrics, 404, 405', async () => {
    let r = await fetch(`${base}/health`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), '{"health":"true"}');
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    fake.healthy = false;
    r = await fetch(`${base}/health?exclude=NOSPACE`);
    assert.equal(r.status, 503);
    assert.equal(await r.text(), '{"health":"false"}\n');
    assert.deepEqual([...(fake.lastHealthExcluded ?? [])], ['NOSPACE']);
    fake.healthy = true;
    r = await fetch(`${base}/health`, { method: 'POST' });
    assert.deepEqual([r.status, r.headers.get('allow'), await r.text()], [405, 'GET', 'Method Not Allowed\n']);
    r = await fetch(`${base}/version`);
    assert.equal(await r.text(), '{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}');
    assert.equal(r.headers.get('content-type'), 'application/json');
    r = await fetch(`${base}/nothing`);
    assert.deepEqual([r.status, await r.text()], [404, '404 page not found\n']);
    const m = await (await fetch(`${base}/metrics`)).text();
    assert.match(m, /^etcd_server_version\{server_version="3\.4\.23"\} 1$/m);
    assert.match(m, /^grpc_server_handled_total\{grpc_type="unary",grpc_service="etcdserverpb\.KV",grpc_method="Put",grpc_code="OK"\} [1-9]/m);
    assert.match(m, /^grpc_server_handled_total\{grpc_type="unary",grpc_service="etcdserverpb\.KV",grpc_method="Put",grpc_code="ResourceExhausted"\} 1$/m);
    assert.match(m, /^process_resident_memory_bytes \d+/m);
    assert.match(m, /^etcd_server_health_failures 1$/m);
  });

  it('hasleader: etcdctl endpoint health asks for a leader', async () => {
    fake.leaderId = 0n;
    const r = await ctl('get', 'foo', '--consistency=s');
    assert.equal(r.code, 0); // etcdctl get does not send hasleader
    const wr = await runCli(REAL, [`--endpoints=${ep}`, 'watch', 'x'], { timeoutMs: 2500 });
    assert.match(wr.stderr, /no leader/);
    fake.leaderId = 0x10n;
  });

  it('learner: only Status and serializable Range are served (etcd v3rpc isRPCSupportedForLearner)', async () => {
    fake.learner = true;
    try {
      const msg = 'etcdserver: rpc not supported for learner';
      const ser = await ctl('get', 'foo', '--consistency=s');
      assert.equal(ser.code, 0, ser.stderr);
      const st = await ctl('endpoint', 'status');
      assert.equal(st.code, 0, st.stderr);
      for (const args of [['get', 'foo'], ['put', 'a', 'b'], ['member', 'list'], ['lease', 'grant', '10']]) {
        const r = await runCli(REAL, [`--endpoints=${ep}`, '--command-timeout=1s', ...args], { timeoutMs: 10_000 });
        assert.notEqual(r.code, 0, args.join(' '));
        assert.ok(r.stderr.includes(msg), `${args.join(' ')}: ${r.stderr}`);
      }
      // streams are refused (clientv3 keeps retrying them, so through the typed client)
      const c = await EtcdClient.connect({ endpoints: [ep], dialTimeoutMs: 5000, commandTimeoutMs: 5000, keepaliveTimeMs: 30_000, keepaliveTimeoutMs: 10_000 });
      try {
        const w = await c.watchStream(false);
        const err = await new Promise<{ code: number; details: string }>((resolve) => w.on('error', resolve));
        assert.deepEqual([err.code, err.details], [14, msg]);
      } finally {
        c.close();
      }
    } finally {
      fake.learner = false;
    }
  });
});

describe('serveClients TLS', () => {
  it('serves gRPC and HTTP over TLS with client cert auth; rejects bad files at start', async () => {
    const certs = await makeTestCerts();
    const fake = new FakeServer();
    const tlsCfg = { certFile: certs.serverCert, keyFile: certs.serverKey, trustedCaFile: certs.caCert, clientCertAuth: true, autoTls: false, crlFile: '', allowedCn: '' };
    const srv = await serveClients(config({ listenClientUrls: [new URL('https://127.0.0.1:0')], clientTls: tlsCfg }), fake, silent);
    try {
      const ep = `127.0.0.1:${srv.addresses[0]!.port}`;
      const tlsArgs = [`--cacert=${certs.caCert}`, `--cert=${certs.clientCert}`, `--key=${certs.clientKey}`];
      const ok = await runCli(REAL, [`--endpoints=https://${ep}`, ...tlsArgs, 'put', 'a', 'b'], { timeoutMs: 15_000 });
      assert.equal(ok.stdout.toString(), 'OK\n', ok.stderr);
      const noCert = await runCli(REAL, [`--endpoints=https://${ep}`, `--cacert=${certs.caCert}`, '--dial-timeout=1s', '--command-timeout=2s', 'put', 'a', 'b'], { timeoutMs: 15_000 });
      assert.notEqual(noCert.code, 0);
      const curl = await runCli('curl', ['-s', '--cacert', certs.caCert, '--cert', certs.clientCert, '--key', certs.clientKey, `https://${ep}/version`]);
      assert.equal(curl.stdout.toString(), '{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}');
    } finally {
      await srv.close();
      fake.store.close();
    }
    await assert.rejects(
      serveClients(config({ listenClientUrls: [new URL('https://127.0.0.1:0')], clientTls: { ...tlsCfg, certFile: '/nonexistent/cert.pem' } }), fake, silent),
      /--cert-file: cannot read \/nonexistent\/cert.pem/,
    );
    await assert.rejects(
      serveClients(config({ listenClientUrls: [new URL('https://127.0.0.1:0')], clientTls: { ...tlsCfg, certFile: '', keyFile: '' } }), fake, silent),
      /TLS key\/cert \(--cert-file, --key-file\) must be provided for client url https:\/\/127.0.0.1:0 with HTTPS scheme/,
    );
    await assert.rejects(
      serveClients(config({ listenClientUrls: [new URL('https://127.0.0.1:0')], clientTls: { ...tlsCfg, keyFile: certs.caCert } }), fake, silent),
      /client TLS: cannot use --cert-file/,
    );
  });

  it('auto-tls generates a self-signed certificate', async () => {
    const fake = new FakeServer();
    const cfg = config({ listenClientUrls: [new URL('https://127.0.0.1:0')], listenMetricsUrls: [new URL('http://127.0.0.1:0')] });
    const srv = await serveClients({ ...cfg, clientTls: { ...cfg.clientTls, autoTls: true } }, fake, silent);
    try {
      assert.ok(fs.existsSync(path.join(cfg.dataDir, 'fixtures', 'client', 'cert.pem')));
      const ep = `127.0.0.1:${srv.addresses[0]!.port}`;
      const r = await runCli(REAL, [`--endpoints=https://${ep}`, '--insecure-skip-tls-verify', '--insecure-transport=false', 'put', 'a', 'b'], { timeoutMs: 15_000 });
      assert.equal(r.stdout.toString(), 'OK\n', r.stderr);
      const metricsUrl = `http://127.0.0.1:${srv.addresses[1]!.port}`;
      assert.equal((await fetch(`${metricsUrl}/health`)).status, 200);
      assert.equal((await fetch(`${metricsUrl}/version`)).status, 404);
    } finally {
      await srv.close();
      fake.store.close();
    }
  });
});
