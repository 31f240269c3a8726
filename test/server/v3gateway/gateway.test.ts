// The /v3 JSON gateway: the same HTTP requests (as curl sends them) against a real
// etcd 3.4.23 and against ours, started as twins (same member and cluster IDs), and
// the responses compared: status, the headers grpc-gateway and net/http decide
// (content type, Grpc-Metadata-*, Trailer, Content-Length vs chunked), body and
// trailers. Only values that legitimately differ are normalized: auth tokens
// (random), the backend hash and sizes (bbolt vs LMDB files), snapshot blobs, and
// a lease's remaining TTL.

import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { after, before, describe, it } from 'node:test';
import { makeTestCerts, type TestCerts } from '../../harness/certs.js';
import { startTwinEtcds, stopAll, type EtcdProcess } from '../../harness/etcd.js';

interface Reply {
  status: number;
  headers: Record<string, string | undefined>;
  body: string;
  trailers: Record<string, string>;
}

interface Req {
  path: string;
  body?: string;
  method?: string;
  headers?: Record<string, string>;
  /** stream: stop reading after this many newline-terminated lines (or the end of the response) */
  lines?: number;
}

/** Headers compared between the servers (lower-case names). */
const COMPARED_HEADERS = [
  'location', 'content-type', 'content-length', 'transfer-encoding', 'trailer', 'x-content-type-options',
  'grpc-metadata-content-type', 'access-control-allow-origin', 'access-control-allow-methods', 'access-control-allow-headers',
];

/** One request as `curl -X <method> -d <body>` sends it (form content type), with a time limit. */
function send(server: EtcdProcess, r: Req, tlsOpts?: https.RequestOptions): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // the path is sent as given (not normalized by URL)
    const base = new URL(server.clientURL);
    const body = r.body ?? '';
    const headers: Record<string, string> = { Accept: '*/*', 'User-Agent': 'curl/7.88.1', ...r.headers };
    if (r.body !== undefined) {
      headers['Content-Type'] ??= 'application/x-www-form-urlencoded';
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    const opts: https.RequestOptions = { host: base.hostname, port: base.port, path: r.path, method: r.method ?? 'POST', headers, agent: false, ...tlsOpts };
    const mod = base.protocol === 'https:' ? https : http;
    let done = false;
    const req = mod.request(opts, (res) => {
      let text = '';
      res.setEncoding('utf8');
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        const h: Record<string, string | undefined> = {};
        for (const k of COMPARED_HEADERS) {
          const v = res.headers[k];
          h[k] = Array.isArray(v) ? v.join(', ') : v;
        }
        resolve({ status: res.statusCode ?? 0, headers: h, body: text, trailers: { ...(res.trailers as Record<string, string>) } });
        req.destroy();
      };
      res.on('data', (c: string) => {
        text += c;
        if (r.lines !== undefined && text.split('\n').length - 1 >= r.lines) finish();
      });
      res.on('end', finish);
      res.on('error', finish);
    });
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      req.destroy();
      reject(new Error(`${r.path}: no complete response within 10 s`));
    }, 10_000);
    req.on('error', (e) => { if (!done) { done = true; clearTimeout(timer); reject(e); } });
    req.end(body);
  });
}

/**
 * A watch whose request body stays open: writes each of `bodies` after the response
 * line that the previous one brought, returns the lines read (one per body).
 */
function streamWatch(server: EtcdProcess, bodies: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const base = new URL(server.clientURL);
    const lines: string[] = [];
    const timer = setTimeout(() => { req.destroy(); reject(new Error(`watch stream: ${lines.length} lines within 10 s`)); }, 10_000);
    const req = http.request({ host: base.hostname, port: base.port, path: '/v3/watch', method: 'POST', agent: false, headers: { 'Content-Type': 'application/json' } }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          lines.push(buf.slice(0, i));
          buf = buf.slice(i + 1);
          if (lines.length === bodies.length) {
            clearTimeout(timer);
            req.destroy();
            resolve(lines);
            return;
          }
          req.write(bodies[lines.length]!);
        }
      });
    });
    req.on('error', (e) => { if (lines.length < bodies.length) { clearTimeout(timer); reject(e); } });
    req.write(bodies[0]!);
  });
}

/** Replaces values that legitimately differ between etcd and ours. */
function normalize(rep: Reply, server: EtcdProcess): Reply {
  const body = rep.body
    .split(server.clientURL).join('<client-url>')
    .replace(/"token":"[^"]*"/g, '"token":"<token>"')
    .replace(/"blob":"[^"]*"/g, '"blob":"<blob>"')
    .replace(/"(dbSize|dbSizeInUse)":"\d+"/g, '"$1":"<n>"')
    .replace(/"hash":\d+/g, '"hash":<n>')
    .replace(/"TTL":"\d+","grantedTTL"/g, '"TTL":"<ttl>","grantedTTL"');
  const headers = { ...rep.headers };
  // bodies normalized above have another length
  if (body !== rep.body && headers['content-length'] !== undefined) {
    headers['content-length'] = '<n>';
  }
  return { ...rep, body, headers };
}

describe('/v3 JSON gateway: real etcd 3.4.23 vs ours', () => {
  let real: EtcdProcess;
  let ours: EtcdProcess;
  before(async () => {
    [real, ours] = await startTwinEtcds({}, ['real', 'ours']);
  });
  after(async () => {
    await stopAll(real, ours);
  });

  /** Sends `r` to both servers (real first) and asserts equal normalized replies; returns them. */
  async function same(r: Req, label = r.path): Promise<[Reply, Reply]> {
    const a = await send(real, r);
    const b = await send(ours, r);
    assert.deepEqual(normalize(b, ours), normalize(a, real), `${label} ${r.body ?? ''}`);
    return [a, b];
  }

  it('kv: put, range, deleterange, txn, compaction; /v3beta alias', async () => {
    const [put] = await same({ path: '/v3/kv/put', body: '{"key":"Zm9v","value":"YmFy"}' });
    assert.equal(put.status, 200);
    assert.match(put.body, /"revision":"2"/);
    await same({ path: '/v3/kv/range', body: '{"key":"Zm9v"}' });
    await same({ path: '/v3beta/kv/range', body: '{"key":"Zm9v"}' });
    await same({ path: '/v3/kv/put', body: '{"key":"YQ==","value":"MQ==","prev_kv":true}' });
    await same({ path: '/v3/kv/put', body: '{"key":"YQ==","value":"Mg==","prevKv":true,"lease":"0"}' });
    await same({ path: '/v3/kv/range', body: '{"key":"AA==","range_end":"AA==","sort_order":"DESCEND","sort_target":"KEY"}' });
    await same({ path: '/v3/kv/range', body: '{"key":"AA==","rangeEnd":"AA==","keysOnly":true,"limit":1}' });
    await same({ path: '/v3/kv/range', body: '{"key":"AA==","range_end":"AA==","count_only":true}' });
    await same({ path: '/v3/kv/range', body: '{"key":"Zm9v","revision":"99"}' });
    await same({ path: '/v3/kv/txn', body: '{"compare":[{"target":"VALUE","key":"Zm9v","value":"YmFy"}],"success":[{"request_put":{"key":"Zm9v","value":"YmF6"}}],"failure":[{"request_range":{"key":"Zm9v"}}]}' });
    await same({ path: '/v3/kv/txn', body: '{"compare":[{"key":"Zm9v","result":"EQUAL","target":"CREATE","create_revision":"0"}],"success":[{"request_put":{"key":"Zm9v","value":"YmFy"}}]}' });
    // TestV3CurlTxn's malformed request (etcd once crashed on it)
    await same({ path: '/v3/kv/txn', body: '{"compare":[{"result":0,"target":1,"key":"Zm9v","TargetUnion":null}],"success":[{"Request":{"RequestPut":{"key":"Zm9v","value":"YmFy"}}}]}' });
    await same({ path: '/v3/kv/txn', body: '{"compare":null,"success":[{"request_put":null}],"failure":null}' });
    // (a RequestOp naming two oneof cases is left out: which one etcd's jsonpb keeps depends
    // on Go's map iteration order, so real etcd answers differently from run to run)
    await same({ path: '/v3/kv/txn', body: '{"success":[{"request_txn":{"success":[{"request_range":{"key":"Zm9v"}}]}}]}' });
    await same({ path: '/v3/kv/txn', body: '{"compare":[{"key":"Zm9v","target":"VALUE","value":null}],"success":[]}' });
    await same({ path: '/v3/kv/txn', body: '{"compare":"x"}' });
    await same({ path: '/v3/kv/txn', body: '{"compare":[1]}' });
    await same({ path: '/v3/kv/put', body: '{"key":"PGh0bWw+","value":"PCY+"}' });
    await same({ path: '/v3/kv/deleterange', body: '{"key":"YQ==","prev_kv":true}' });
    await same({ path: '/v3/kv/compaction', body: '{"revision":"100"}' });
    await same({ path: '/v3/kv/compaction', body: '{"revision":"2","physical":true}' });
    await same({ path: '/v3/kv/range', body: '{"key":"Zm9v","revision":"1"}' });
    // a response over 2048 bytes is chunked (Go net/http), a smaller one has a Content-Length
    const big = Buffer.alloc(3000, 'x').toString('base64');
    await same({ path: '/v3/kv/put', body: `{"key":"Ymln","value":"${big}"}` });
    const [r] = await same({ path: '/v3/kv/range', body: '{"key":"Ymln"}' });
    assert.equal(r.headers['transfer-encoding'], 'chunked');
    // --max-request-bytes (1.5 MiB): etcd's own check, then gRPC's receive limit (+512 KiB)
    const [tooLarge] = await same({ path: '/v3/kv/put', body: `{"key":"Ymln","value":"${Buffer.alloc(1_800_000, 'y').toString('base64')}"}` }, 'put 1.8 MB');
    assert.equal(tooLarge.status, 400, tooLarge.body);
    const [overGrpc] = await same({ path: '/v3/kv/put', body: `{"key":"Ymln","value":"${Buffer.alloc(2_200_000, 'y').toString('base64')}"}` }, 'put 2.2 MB');
    assert.equal(overGrpc.status, 429, overGrpc.body);
  });

  it('request errors: bad JSON, base64, enums, numbers, empty body; 404, 405, /v3alpha', async () => {
    for (const body of [
      '{"key":Zm9v"}', '{"key":"Zm9v!"}', '{"key":"Zm9"}', '{"key":"Zm9v","sort_order":"NOPE"}', '{"key":"Zm9v","sort_order":7}',
      '{"key":"Zm9v","limit":"abc"}', '{"key":"Zm9v","limit":1.5}', '{"key":"Zm9v","limit":"12"}', '{"key":123}',
      '[1]', '"x"', '{"key":"Zm9v"', '{"key":"Zm9v" x}', '{"key":"\\u12"}', '{"key":"Zm9v","count_only":"true"}',
      '{"key":"Zm9v","serializable":tru}', '{"key":"Zm9v",}', '{"key"}', '  ', '', '{"key":"Zm9v"} trailing', 'null',
      '{"key":"Zm9v","limit":-1}', '{"key":"Zm9v","limit":99999999999999999999}', '{"key":"Zm9v","revision":"-"}',
      '{"key":"Zm9v","revision":"1."}', '{"key":"Zm9v","revision":"1e"}', '{"key":"Zm9v","revision":"tru"}', '{"key":"Zm9v","revision":""}',
      '{"key":"Zm9v","revision":" 1 "}', '{"key":"Zm9v","revision":"1 2"}', '{"key":"Zm9v","revision":true}', '{"key":"Zm9v","revision":null}',
      '{"key":"Zm9v","serializable":1}', '{"key":"Zm9v","serializable":"true"}', '{"key":"Zm9v","serializable":null}',
      '{"key":"Zm9v","keys_only":true,"keysOnly":false}', '{"key":"Zm9v","key":"YmFy"}', '{"key":"Zm9\\u0076"}', '{"key":"Zm9v\\n"}',
      '{"key":"Zm9v\\r\\n"}', '{"key":"Zm9v=="}', '{"key":"Zm9=v"}', '{"key":"Z"}', '{"key":"Zm9v","sort_target":2}', '{"key":"Zm9v","sort_target":"MOD"}',
      '{"key":"Zm9v","sort_order":1.0}', '{"key":"Zm9v","max_mod_revision":"9223372036854775808"}', '{"key":"Zm9v","limit":"0x10"}',
      '{"key":"Zm9v","limit":1e2}', '{"key":"Zm9v","limit":-0}', '{"key":"\\ud800"}', '{"key":"Zm9v", "x": {"deep": [1, {"a": null}]}}',
      '{"key":"Zm9v","x":[1,2', '{"key":"Zm9v","x":{"a" 1}}', '{"key":"Zm9v","x":"\\q"}', '{"key":"Zm9v","x":"a\tb"}', '{"key":"Zm9v","x":01}',
      '{"key":"Zm9v","x":-}', '{"key":"Zm9v","x":1.}', '{"key":"Zm9v","x":nul}', '{"key":"Zm9v","x":falsy}', '{"key":"Zm9v",\'x\':1}', '{"key":"Zm9v"]',
    ]) {
      await same({ path: '/v3/kv/range', body }, `range ${JSON.stringify(body)}`);
    }
    await same({ path: '/v3/kv/put', body: '{"key":"Zm9v","value":"YmFy","lease":"12345"}' });
    await same({ path: '/v3/kv/put', body: '{"value":"YmFy"}' });
    await same({ path: '/v3/kv/range', method: 'GET' });
    await same({ path: '/v3/kv/range', method: 'PUT', body: '{}' });
    await same({ path: '/v3/kv/nope', body: '{}' });
    await same({ path: '/v3/kv/range/', body: '{}' });
    await same({ path: '/v3/kv/range:x', body: '{}' });
    await same({ path: '/v3alpha/kv/range', body: '{"key":"Zm9v"}' });
    await same({ path: '/v3/kv/range', method: 'OPTIONS' });
    await same({ path: '/v3/kv/range', body: '{"key":"Zm9v"}', headers: { 'Grpc-Timeout': 'soon' } });
    await same({ path: '/v3/kv/range', body: '{"key":"Zm9v"}', headers: { 'Grpc-Timeout': '5S' } });
    // Go's ServeMux redirects unclean paths (after the /v3beta/ rewrite) and /v3 to /v3/
    for (const p of ['//v3/kv/range', '/v3/kv/../kv/range', '/v3beta//kv/range', '/v3/./kv/range?x=1', '/v3', '/v3?a=b', '/v3/kv/range/.']) {
      await same({ path: p, body: '{"key":"Zm9v"}' });
    }
    await same({ path: '//health', method: 'GET' });
    await same({ path: '/a/../version', method: 'GET' });
  });

  it('lease: grant, timetolive, leases, revoke, keepalive (and the /v3/kv/lease aliases)', async () => {
    await same({ path: '/v3/lease/grant', body: '{"TTL":"600","ID":"7"}' });
    await same({ path: '/v3/lease/grant', body: '{"TTL":600,"ID":7}' });
    await same({ path: '/v3/kv/put', body: '{"key":"bGVhc2Vk","value":"eA==","lease":"7"}' });
    await same({ path: '/v3/lease/timetolive', body: '{"ID":"7","keys":true}' });
    await same({ path: '/v3/kv/lease/timetolive', body: '{"ID":"7"}' });
    await same({ path: '/v3/lease/leases', body: '{}' });
    await same({ path: '/v3/kv/lease/leases', body: '' });
    const [ka] = await same({ path: '/v3/lease/keepalive', body: '{"ID":"7"}{"ID":"7"}', lines: 2 });
    assert.equal(ka.body.split('\n').filter((l) => l.startsWith('{"result":')).length, 2);
    await same({ path: '/v3/lease/keepalive', body: '{"ID":"99"}', lines: 1 });
    await same({ path: '/v3/lease/keepalive', body: '{"ID":x}' });
    await same({ path: '/v3/lease/revoke', body: '{"ID":"7"}' });
    await same({ path: '/v3/kv/lease/revoke', body: '{"ID":"7"}' });
    await same({ path: '/v3/lease/timetolive', body: '{"ID":"7"}' });
  });

  it('watch: created + events as {"result":...} lines; cancel; bad first request', async () => {
    const [p1] = await same({ path: '/v3/kv/put', body: '{"key":"dw==","value":"MQ=="}' });
    await same({ path: '/v3/kv/put', body: '{"key":"dw==","value":"Mg=="}' });
    const rev = (JSON.parse(p1.body) as { header: { revision: string } }).header.revision;
    const [w] = await same({ path: '/v3/watch', body: `{"create_request":{"key":"dw==","start_revision":"${rev}"}}`, lines: 2 });
    assert.match(w.body, /^\{"result":\{"header":\{[^}]*\},"created":true\}\}\n\{"result":.*"events":\[/);
    // a start revision below the compacted one (the kv test compacts): canceled with compact_revision
    await same({ path: '/v3/watch', body: '{"create_request":{"key":"dw==","start_revision":"1"}}', lines: 2 });
    await same({ path: '/v3/watch', body: '{"create_request":{"key":"dw=="}} {"cancel_request":{"watch_id":"0"}}', lines: 2 });
    await same({ path: '/v3/watch', body: '{"create_request":{"key":"dw==","filters":["NOPUT"],"prev_kv":true}}', lines: 1 });
    await same({ path: '/v3/watch', body: '{"create_request":{"key":"dw==" xx' });
    // requests sent one by one in a body that stays open
    const bodies = ['{"create_request":{"key":"dw=="}}', '{"create_request":{"key":"eA==","watch_id":"7"}}', '{"cancel_request":{"watch_id":"7"}}', '{"progress_request":{}}'];
    const a = await streamWatch(real, bodies);
    const b = await streamWatch(ours, bodies);
    assert.deepEqual(b, a);
    assert.match(a[2]!, /"watch_id":"7","canceled":true/);
    await same({ path: '/v3/watch', body: '{"create_request":{"key":"dw=="}} xx', lines: 1 });
  });

  it('cluster and maintenance', async () => {
    await same({ path: '/v3/maintenance/status', body: '{}' });
    await same({ path: '/v3/cluster/member/list', body: '{}' });
    await same({ path: '/v3/cluster/member/remove', body: '{"ID":"1"}' });
    await same({ path: '/v3/cluster/member/update', body: '{"ID":"1","peerURLs":["http://127.0.0.1:9"]}' });
    // (etcd proposes a promotion of an unknown member through raft, ours does not: the
    // raft index differs afterwards, so status is compared before it)
    await same({ path: '/v3/cluster/member/promote', body: '{"ID":"1"}' });
    await same({ path: '/v3/cluster/member/add', body: '{"peerURLs":["not a url"]}' });
    await same({ path: '/v3/maintenance/alarm', body: '{"action":"GET"}' });
    await same({ path: '/v3/maintenance/hash', body: '{}' });
    await same({ path: '/v3/maintenance/defragment', body: '{}' });
    await same({ path: '/v3/maintenance/transfer-leadership', body: '{"targetID":"1"}' });
    const [snap] = await same({ path: '/v3/maintenance/snapshot', body: '{}', lines: 100 });
    assert.match(snap.body, /\{"result":\{"blob":"[^"]*"\}\}\n$/);
  });

  it('lock and election (v3lock / v3election services through the gateway)', async () => {
    await same({ path: '/v3/lease/grant', body: '{"TTL":"600","ID":"100"}' });
    await same({ path: '/v3/lease/grant', body: '{"TTL":"600","ID":"101"}' });
    await same({ path: '/v3/election/leader', body: '{"name":"ZWw="}' });
    const [c] = await same({ path: '/v3/election/campaign', body: '{"name":"ZWw=","value":"djE=","lease":"100"}' });
    const leader = (JSON.parse(c.body) as { leader: { rev: string } }).leader;
    await same({ path: '/v3/election/leader', body: '{"name":"ZWw="}' });
    await same({ path: '/v3/election/proclaim', body: `{"leader":{"name":"ZWw=","key":"ZWwvNjQ=","rev":"${leader.rev}","lease":"100"},"value":"djI="}` });
    await same({ path: '/v3/election/proclaim', body: '{"leader":{"name":"ZWw=","key":"ZWwvNjQ=","rev":"1","lease":"100"},"value":"djI="}' });
    await same({ path: '/v3/election/proclaim', body: '{"value":"djI="}' });
    await same({ path: '/v3/election/resign', body: '{}' });
    await same({ path: '/v3/election/observe', body: '{"name":"ZWw="}', lines: 1 });
    await same({ path: '/v3/election/resign', body: `{"leader":{"name":"ZWw=","key":"ZWwvNjQ=","rev":"${leader.rev}","lease":"100"}}` });
    await same({ path: '/v3/election/leader', body: '{"name":"ZWw="}' });
    await same({ path: '/v3/lock/lock', body: '{"name":"bGs=","lease":"100"}' });
    await same({ path: '/v3/lock/lock', body: '{"name":"bGs=","lease":"100"}' });
    // a second owner waits until the first unlocks
    for (const srv of [real, ours]) {
      const waiting = send(srv, { path: '/v3/lock/lock', body: '{"name":"bGs=","lease":"101"}' });
      for (let i = 0; i < 100; i++) {
        const r = await send(srv, { path: '/v3/kv/range', body: '{"key":"bGsv","range_end":"bGsw","count_only":true}' });
        if (r.body.includes('"count":"2"')) break;
        await new Promise((res) => setTimeout(res, 50));
      }
      const un = await send(srv, { path: '/v3/lock/unlock', body: '{"key":"bGsvNjQ="}' });
      assert.equal(un.status, 200);
      const got = await waiting;
      assert.equal(got.status, 200, got.body);
      assert.match(got.body, /"key":"bGsvNjU="/);
    }
    await same({ path: '/v3/lock/unlock', body: '{"key":"bGsvNjU="}' });
  });

  it('auth: users, roles, enable; the Authorization header carries the token; errors', async () => {
    await same({ path: '/v3/auth/user/add', body: '{"name":"root","password":"toor"}' });
    await same({ path: '/v3/auth/user/add', body: '{"name":"alice","password":"pw","options":{"no_password":false}}' });
    await same({ path: '/v3/auth/user/add', body: '{"name":"alice","password":"pw"}' });
    await same({ path: '/v3/auth/user/add', body: '{"name":"<b>&\\u2028é\\u00e9","password":"pw"}' });
    await same({ path: '/v3/auth/user/list', body: '{}' });
    await same({ path: '/v3/auth/user/delete', body: '{"name":"<b>&\\u2028éé"}' });
    await same({ path: '/v3/auth/role/add', body: '{"name":"root"}' });
    await same({ path: '/v3/auth/role/add', body: '{"name":"rw"}' });
    await same({ path: '/v3/auth/role/grant', body: '{"name":"rw","perm":{"permType":"READWRITE","key":"YQ==","range_end":"Yg=="}}' });
    await same({ path: '/v3/auth/role/get', body: '{"role":"rw"}' });
    await same({ path: '/v3/auth/user/grant', body: '{"user":"root","role":"root"}' });
    await same({ path: '/v3/auth/user/grant', body: '{"user":"alice","role":"rw"}' });
    await same({ path: '/v3/auth/user/get', body: '{"name":"alice"}' });
    await same({ path: '/v3/auth/user/list', body: '{}' });
    await same({ path: '/v3/auth/role/list', body: '{}' });
    await same({ path: '/v3/auth/enable', body: '{}' });
    await same({ path: '/v3/kv/put', body: '{"key":"Zm9v","value":"YmFy"}' });
    await same({ path: '/v3/auth/authenticate', body: '{"name":"root","password":"bad"}' });
    const [ta, tb] = await same({ path: '/v3/auth/authenticate', body: '{"name":"root","password":"toor"}' });
    const tokA = (JSON.parse(ta.body) as { token: string }).token;
    const tokB = (JSON.parse(tb.body) as { token: string }).token;
    const both = async (r: Req, label: string) => {
      const a = await send(real, { ...r, headers: { ...r.headers, Authorization: tokA } });
      const b = await send(ours, { ...r, headers: { ...r.headers, Authorization: tokB } });
      assert.deepEqual(normalize(b, ours), normalize(a, real), label);
    };
    await both({ path: '/v3/kv/put', body: '{"key":"Zm9v","value":"YmFy"}' }, 'put as root');
    await both({ path: '/v3/kv/range', body: '{"key":"Zm9v"}' }, 'range as root');
    await same({ path: '/v3/kv/put', body: '{"key":"Zm9v","value":"YmFy"}', headers: { Authorization: 'bogus' } });
    await same({ path: '/v3/watch', body: '{"create_request":{"key":"Zm9v"}}', lines: 1 });
    await same({ path: '/v3/watch', body: '{"create_request":{"key":"Zm9v"}}', headers: { Authorization: 'bogus' }, lines: 1 });
    await same({ path: '/v3/maintenance/snapshot', body: '{}' });
    {
      // without a login: 3.4.23 grants the lease; ours is stricter (GHSA-q8m4-xhhv-38mg, README "Security")
      const r = { path: '/v3/lease/grant', body: '{"TTL":"60","ID":"8"}' };
      const [a, b] = [await send(real, r), await send(ours, r)];
      assert.equal(a.status, 200, a.body);
      assert.equal(b.status, 400);
      assert.equal(b.body, '{"error":"etcdserver: user name is empty","message":"etcdserver: user name is empty","code":3}');
      // the same lease granted on ours as root, so both servers hold the same state again
      const g = await send(ours, { ...r, headers: { Authorization: tokB } });
      assert.equal(g.status, 200, g.body);
    }
    // alice: read/write on [a, b) only
    const [aa, ab] = await same({ path: '/v3/auth/authenticate', body: '{"name":"alice","password":"pw"}' });
    const alice = [(JSON.parse(aa.body) as { token: string }).token, (JSON.parse(ab.body) as { token: string }).token];
    for (const body of ['{"key":"YQ==","value":"MQ=="}', '{"key":"Zm9v","value":"MQ=="}']) {
      const a = await send(real, { path: '/v3/kv/put', body, headers: { Authorization: alice[0]! } });
      const b = await send(ours, { path: '/v3/kv/put', body, headers: { Authorization: alice[1]! } });
      assert.deepEqual(normalize(b, ours), normalize(a, real), `alice put ${body}`);
    }
    await both({ path: '/v3/auth/user/changepw', body: '{"name":"alice","password":"pw2"}' }, 'changepw');
    await both({ path: '/v3/auth/user/revoke', body: '{"name":"alice","role":"rw"}' }, 'revoke role');
    await both({ path: '/v3/auth/role/revoke', body: '{"role":"rw","key":"YQ==","range_end":"Yg=="}' }, 'revoke perm');
    await both({ path: '/v3/auth/role/delete', body: '{"role":"rw"}' }, 'role delete');
    await both({ path: '/v3/auth/user/delete', body: '{"name":"alice"}' }, 'user delete');
    await both({ path: '/v3/auth/disable', body: '{}' }, 'disable');
    await same({ path: '/v3/kv/range', body: '{"key":"Zm9v"}' });
  });
});

describe('/v3 JSON gateway over https: real etcd 3.4.23 vs ours', () => {
  let real: EtcdProcess;
  let ours: EtcdProcess;
  let certs: TestCerts;
  before(async () => {
    certs = await makeTestCerts();
    [real, ours] = await startTwinEtcds({ tls: { certFile: certs.serverCert, keyFile: certs.serverKey, trustedCAFile: certs.caCert } }, ['real', 'ours']);
  });
  after(async () => {
    await stopAll(real, ours);
  });

  it('put and range over TLS (HTTP/1.1)', async () => {
    const fs = await import('node:fs');
    const t: https.RequestOptions = { ca: fs.readFileSync(certs.caCert), cert: fs.readFileSync(certs.clientCert), key: fs.readFileSync(certs.clientKey) };
    for (const r of [
      { path: '/v3/kv/put', body: '{"key":"Zm9v","value":"YmFy"}' },
      { path: '/v3/kv/range', body: '{"key":"Zm9v"}' },
      { path: '/v3beta/kv/range', body: '{"key":"Zm9v"}' },
      { path: '/v3/kv/range', body: '' },
      { path: '/v3/watch', body: '{"create_request":{"key":"Zm9v","start_revision":"1"}}', lines: 2 },
    ]) {
      const a = await send(real, r, t);
      const b = await send(ours, r, t);
      assert.deepEqual(normalize(b, ours), normalize(a, real), r.path);
    }
  });
});

describe('/v3 JSON gateway off (--enable-grpc-gateway=false): real etcd 3.4.23 vs ours', () => {
  let real: EtcdProcess;
  let ours: EtcdProcess;
  before(async () => {
    [real, ours] = await startTwinEtcds({ extraArgs: ['--enable-grpc-gateway=false'] }, ['real', 'ours']);
  });
  after(async () => {
    await stopAll(real, ours);
  });

  it('/v3/ paths are not served', async () => {
    for (const r of [{ path: '/v3/kv/range', body: '{"key":"Zm9v"}' }, { path: '/v3beta/kv/put', body: '{"key":"Zm9v"}' }]) {
      const a = await send(real, r);
      const b = await send(ours, r);
      assert.equal(a.status, 404);
      assert.deepEqual(normalize(b, ours), normalize(a, real), r.path);
    }
  });
});

describe('/v3 JSON gateway with --client-cert-auth and auth on: real etcd 3.4.23 vs ours', () => {
  let real: EtcdProcess;
  let ours: EtcdProcess;
  let certs: TestCerts;
  before(async () => {
    certs = await makeTestCerts();
    [real, ours] = await startTwinEtcds({ tls: { certFile: certs.serverCert, keyFile: certs.serverKey, trustedCAFile: certs.caCert, clientCertAuth: true } }, ['real', 'ours']);
  });
  after(async () => {
    await stopAll(real, ours);
  });

  it('a client certificate with a CommonName is refused on /v3/ once auth is enabled', async () => {
    const fs = await import('node:fs');
    const t: https.RequestOptions = { ca: fs.readFileSync(certs.caCert), cert: fs.readFileSync(certs.clientCert), key: fs.readFileSync(certs.clientKey) };
    for (const r of [
      { path: '/v3/auth/user/add', body: '{"name":"root","password":"toor"}' },
      { path: '/v3/auth/user/grant', body: '{"user":"root","role":"root"}' },
      { path: '/v3/auth/enable', body: '{}' },
      { path: '/v3/kv/put', body: '{"key":"Zm9v","value":"YmFy"}' },
      { path: '/v3beta/kv/range', body: '{"key":"Zm9v"}' },
      { path: '/v3/nope', body: '{}' },
      { path: '/version', method: 'GET' },
    ]) {
      const a = await send(real, r, t);
      const b = await send(ours, r, t);
      assert.deepEqual(normalize(b, ours), normalize(a, real), r.path);
      if (r.path === '/v3/kv/put') assert.equal(a.status, 400, a.body);
    }
  });
});
