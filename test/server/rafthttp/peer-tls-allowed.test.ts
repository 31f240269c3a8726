// --peer-cert-allowed-cn, --peer-cert-allowed-hostname and --peer-crl-file
// (etcd 3.4 pkg/transport TLSInfo.AllowedCN / AllowedHostname / CRLFile on the peer
// listener and the rafthttp client; our src/server/rafthttp/peer-tls.ts):
//   - the check functions: CN exact match, Go VerifyHostname on SANs only (CN ignored),
//     both settings refused, OpenSSL alert errors in Go's wording;
//   - connectCheckedTls against a Node TLS server: a rejected server certificate fails
//     the client with etcd's error and the server receives a real bad_certificate alert
//     (what a Go client sends), an accepted one carries data;
//   - multi-process 3-member clusters, the same scenarios against real etcd 3.4.23 and
//     ours (bin/etcd), certificates from test/harness/certs.ts:
//       * allowed CN: two members with the right CN form the cluster, a third with
//         another CN (allowing its own CN) is refused: it logs "rejected connection ...
//         remote error: tls: bad certificate" and never becomes ready (TestEtcdPeerCNAuth);
//       * allowed hostname: a third member whose certificate is not valid for the allowed
//         hostname is refused: the others log "client certificate authentication failed",
//         it logs "remote error: tls: bad certificate";
//       * the right CN on all three: all join;
//       * a client certificate with another CN gets the bad_certificate alert from the
//         peer listener (ours writes it like a Go server), the right one an answer;
//       * --peer-crl-file on two members revoking the third's certificate: they log
//         "transport: certificate serial <hex> revoked" for its connections.
//     --peer-trusted-ca-file without --peer-client-cert-auth still requires a verified
//     client certificate ("tls: client didn't provide a certificate"). Both flags at once: etcd's critical "AllowedCN and AllowedHostname are mutually
//     exclusive" line and no member.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { makeLeafCert, makeTestCerts, type TestCerts } from '../../harness/certs.js';
import { ETCD_BIN, OUR_ETCD_BIN } from '../../harness/etcd.js';
import { getFreePorts } from '../../harness/ports.js';
import { describeProc, killAllProcs, procStderr, procStdout, startProc, stopProc, waitFor, type Proc } from '../../harness/proc.js';
import { goSerialHex } from '../../../src/server/embed/crl.js';
import { peerRequest } from '../../../src/server/etcdserver/cluster-util.js';
import {
  allowedCertCheck,
  connectCheckedTls,
  ERR_CLIENT_CERT_AUTH_FAILED,
  goTlsErrorText,
  subjectCommonName,
  verifyHostname,
} from '../../../src/server/rafthttp/peer-tls.js';

const TARGETS = [
  { name: 'etcd 3.4.23', binary: ETCD_BIN },
  { name: 'ours (bin/etcd)', binary: OUR_ETCD_BIN },
];

let certs: TestCerts;
/** CN peer-a, SANs localhost + 127.0.0.1 (right for the CN and hostname scenarios). */
let peerA: { cert: string; key: string };
/** CN peer-b, SANs localhost + 127.0.0.1. */
let peerB: { cert: string; key: string };
/** CN peer-a, SANs wrong.example + 127.0.0.1: valid for its URL, not for "localhost". */
let wrongHost: { cert: string; key: string };
let tmp: string;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'peer-tls-allowed-'));
  certs = await makeTestCerts();
  [peerA, peerB, wrongHost] = await Promise.all([
    makeLeafCert(certs, 'peer-a', { cn: 'peer-a', dns: ['localhost'], ips: ['127.0.0.1'] }),
    makeLeafCert(certs, 'peer-b', { cn: 'peer-b', dns: ['localhost'], ips: ['127.0.0.1'] }),
    makeLeafCert(certs, 'peer-wrong-host', { cn: 'peer-a', dns: ['wrong.example'], ips: ['127.0.0.1'] }),
  ]);
});

after(() => {
  killAllProcs();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const x509 = (f: string) => new X509Certificate(fs.readFileSync(f));

describe('allowed-name checks', () => {
  test('CN: exact match of the subject CN; hostname: SANs only', () => {
    const a = x509(peerA.cert);
    assert.equal(subjectCommonName(a), 'peer-a');
    const cn = allowedCertCheck({ allowedCn: 'peer-a' })!;
    assert.equal(cn(a, true), undefined);
    assert.equal(cn(x509(peerB.cert), true)?.message, ERR_CLIENT_CERT_AUTH_FAILED);
    assert.equal(cn(a, false)?.message, ERR_CLIENT_CERT_AUTH_FAILED, 'an unverified chain never passes');
    assert.equal(cn(undefined, true)?.message, ERR_CLIENT_CERT_AUTH_FAILED);
    assert.equal(allowedCertCheck({ allowedCn: 'PEER-A' })!(a, true)?.message, ERR_CLIENT_CERT_AUTH_FAILED);

    assert.ok(verifyHostname(a, 'localhost'));
    assert.ok(verifyHostname(a, 'LOCALHOST.'));
    assert.ok(verifyHostname(a, '127.0.0.1'));
    assert.ok(!verifyHostname(a, '127.0.0.2'));
    assert.ok(!verifyHostname(a, 'peer-a'), 'the CN is not a hostname');
    assert.ok(!verifyHostname(x509(wrongHost.cert), 'localhost'));
    assert.ok(verifyHostname(x509(wrongHost.cert), 'wrong.example'));
    assert.equal(allowedCertCheck({ allowedHostname: 'localhost' })!(a, true), undefined);
    assert.equal(allowedCertCheck({ allowedHostname: 'localhost' })!(x509(wrongHost.cert), true)?.message, ERR_CLIENT_CERT_AUTH_FAILED);
    assert.equal(allowedCertCheck({}), undefined);
    assert.throws(() => allowedCertCheck({ allowedCn: 'a', allowedHostname: 'b' }), { message: 'AllowedCN and AllowedHostname are mutually exclusive (cn="a", hostname="b")' });
  });

  test('received alerts read as Go reports them', () => {
    const e = (code: string) => Object.assign(new Error('x'), { code });
    assert.equal(goTlsErrorText(e('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE')), 'remote error: tls: bad certificate');
    assert.equal(goTlsErrorText(e('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA')), 'remote error: tls: unknown certificate authority');
    assert.equal(goTlsErrorText(e('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED')), 'remote error: tls: certificate required');
    assert.equal(goTlsErrorText(e('ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE')), "tls: client didn't provide a certificate");
    assert.equal(goTlsErrorText(new Error('read ECONNRESET')), 'read ECONNRESET');
  });
});

describe("a member's own peer requests (join, forwarding, corruption checks)", () => {
  test('peerRequest checks the peer server certificate against the allowed CN / hostname', async () => {
    const srv = https.createServer(
      { cert: fs.readFileSync(peerB.cert), key: fs.readFileSync(peerB.key), ca: fs.readFileSync(certs.caCert), requestCert: true, rejectUnauthorized: true },
      (_req, res) => res.end('ok'),
    );
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const url = `https://localhost:${(srv.address() as { port: number }).port}/members`;
    const tlsBase = { cert: fs.readFileSync(peerA.cert), key: fs.readFileSync(peerA.key), ca: fs.readFileSync(certs.caCert) };
    try {
      const ok = await peerRequest(url, { method: 'GET', timeoutMs: 5000, tls: { ...tlsBase, allowedCn: 'peer-b' } });
      assert.equal(ok.body.toString(), 'ok');
      assert.equal((await peerRequest(url, { method: 'GET', timeoutMs: 5000, tls: { ...tlsBase, allowedHostname: 'localhost' } })).status, 200);
      await assert.rejects(peerRequest(url, { method: 'GET', timeoutMs: 5000, tls: { ...tlsBase, allowedCn: 'peer-a' } }), { message: ERR_CLIENT_CERT_AUTH_FAILED });
      await assert.rejects(peerRequest(url, { method: 'GET', timeoutMs: 5000, tls: { ...tlsBase, allowedHostname: 'wrong.example' } }), { message: ERR_CLIENT_CERT_AUTH_FAILED });
    } finally {
      srv.close();
    }
  });
});

describe('connectCheckedTls', () => {
  async function server(): Promise<{ srv: tls.Server; port: number; clientErrors: string[] }> {
    const clientErrors: string[] = [];
    const srv = tls.createServer(
      { cert: fs.readFileSync(peerB.cert), key: fs.readFileSync(peerB.key), ca: fs.readFileSync(certs.caCert), requestCert: true, rejectUnauthorized: true },
      (s) => s.pipe(s),
    );
    srv.on('tlsClientError', (err: NodeJS.ErrnoException) => clientErrors.push(err.code ?? err.message));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    return { srv, port: (srv.address() as { port: number }).port, clientErrors };
  }
  const opts = (port: number) => ({
    host: '127.0.0.1', port, servername: 'localhost',
    cert: fs.readFileSync(peerA.cert), key: fs.readFileSync(peerA.key), ca: fs.readFileSync(certs.caCert),
  });

  test('a rejected server certificate: etcd error here, bad_certificate alert there (TLS 1.3)', async () => {
    const { srv, port, clientErrors } = await server();
    try {
      const s = connectCheckedTls(opts(port), allowedCertCheck({ allowedCn: 'peer-a' })!);
      const err = await new Promise<Error>((r) => s.once('error', r));
      assert.equal(err.message, ERR_CLIENT_CERT_AUTH_FAILED);
      await waitFor('the server to see the alert', () => clientErrors.length > 0, 5000);
      assert.deepEqual(clientErrors, ['ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE']);
    } finally {
      srv.close();
    }
  });

  test('an accepted server certificate carries data', async () => {
    const { srv, port, clientErrors } = await server();
    try {
      const s = connectCheckedTls(opts(port), allowedCertCheck({ allowedCn: 'peer-b' })!);
      await new Promise<void>((r, j) => { s.once('secureConnect', r); s.once('error', j); });
      s.write('ping');
      const got = await new Promise<string>((r) => s.once('data', (b: Buffer) => r(b.toString())));
      assert.equal(got, 'ping');
      s.destroy();
      assert.deepEqual(clientErrors, []);
    } finally {
      srv.close();
    }
  });

  test('connection errors reach the socket', async () => {
    const [port] = await getFreePorts(1);
    const s = connectCheckedTls(opts(port!), allowedCertCheck({ allowedCn: 'peer-b' })!);
    const err = (await new Promise<Error>((r) => s.once('error', r))) as NodeJS.ErrnoException;
    assert.equal(err.code, 'ECONNREFUSED');
  });
});

interface MemberSpec {
  cert: { cert: string; key: string };
  extra: string[];
  /** Leave out --peer-client-cert-auth. */
  noClientCertAuth?: boolean;
}

const out = (p: Proc) => procStdout(p) + procStderr(p);
const READY = 'ready to serve client requests';

/** Starts a 3-member https-peer cluster of `binary`; member i gets specs[i]. */
async function startCluster(binary: string, label: string, specs: MemberSpec[]): Promise<Proc[]> {
  const ports = await getFreePorts(specs.length * 2);
  const peerUrl = (i: number) => `https://127.0.0.1:${ports[2 * i]}`;
  const ic = specs.map((_, i) => `m${i}=${peerUrl(i)}`).join(',');
  return specs.map((s, i) => {
    const dir = fs.mkdtempSync(path.join(tmp, `${label}-m${i}-`));
    return startProc(binary, [
      '--name', `m${i}`, '--data-dir', dir,
      '--listen-client-urls', `http://127.0.0.1:${ports[2 * i + 1]}`, '--advertise-client-urls', `http://127.0.0.1:${ports[2 * i + 1]}`,
      '--listen-peer-urls', peerUrl(i), '--initial-advertise-peer-urls', peerUrl(i),
      '--initial-cluster', ic, '--initial-cluster-token', `peer-tls-${label}`,
      '--peer-cert-file', s.cert.cert, '--peer-key-file', s.cert.key, '--peer-trusted-ca-file', certs.caCert,
      ...(s.noClientCertAuth ? [] : ['--peer-client-cert-auth']), ...s.extra,
    ]);
  });
}

/** GET /version on a member's peer URL with `cert` as client certificate: "<status> <body>" or "error <code>". */
function getPeerVersion(p: Proc, cert: { cert: string; key: string } | undefined): Promise<string> {
  const url = /--initial-advertise-peer-urls (\S+)/.exec(p.child.spawnargs.join(' '))![1]!;
  return new Promise<string>((resolve) => {
    const req = https.get(`${url}/version`, {
      ca: fs.readFileSync(certs.caCert), servername: 'localhost', agent: false,
      ...(cert ? { cert: fs.readFileSync(cert.cert), key: fs.readFileSync(cert.key) } : {}),
    }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString()));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code ?? err.message}`));
  });
}

async function stopAllProcs(ps: Proc[]): Promise<void> {
  await Promise.all(ps.map((p) => stopProc(p, 'SIGKILL')));
}

/** Waits for `ready` members to be ready and `line` in member `who`'s log; member 2 must not be ready when `refused`. */
async function expectCluster(ps: Proc[], ready: number[], who: number, line: string | RegExp, refused: boolean): Promise<void> {
  for (const i of ready) await waitFor(`m${i} ready\n${describeProc(`m${i}`, ps[i]!)}`, () => out(ps[i]!).includes(READY), 20_000);
  await waitFor(`${line} in m${who}'s log\n${describeProc(`m${who}`, ps[who]!)}`, () => (typeof line === 'string' ? out(ps[who]!).includes(line) : line.test(out(ps[who]!))), 20_000);
  if (refused) assert.ok(!out(ps[2]!).includes(READY), describeProc('m2', ps[2]!));
}

for (const target of TARGETS) {
  describe(`peer TLS allowed names: ${target.name}`, { concurrency: 1 }, () => {
    test('--peer-cert-allowed-cn: a member with another CN is refused at handshake', async () => {
      const ps = await startCluster(target.binary, 'cn', [
        { cert: peerA, extra: ['--peer-cert-allowed-cn', 'peer-a'] },
        { cert: peerA, extra: ['--peer-cert-allowed-cn', 'peer-a'] },
        { cert: peerB, extra: ['--peer-cert-allowed-cn', 'peer-b'] },
      ]);
      try {
        await expectCluster(ps, [0, 1], 2, 'remote error: tls: bad certificate', true);
        assert.match(out(ps[2]!), /rejected connection/);
      } finally {
        await stopAllProcs(ps);
      }
    });

    test('--peer-cert-allowed-hostname: a member whose certificate is not valid for it is refused', async () => {
      const ps = await startCluster(target.binary, 'host', [
        { cert: peerA, extra: ['--peer-cert-allowed-hostname', 'localhost'] },
        { cert: peerA, extra: ['--peer-cert-allowed-hostname', 'localhost'] },
        { cert: wrongHost, extra: ['--peer-cert-allowed-hostname', 'localhost'] },
      ]);
      try {
        await expectCluster(ps, [0, 1], 0, /rejected connection.*client certificate authentication failed/, false);
        await expectCluster(ps, [], 2, 'remote error: tls: bad certificate', true);
      } finally {
        await stopAllProcs(ps);
      }
    });

    test('the peer listener answers a client certificate with another CN by a bad_certificate alert', async () => {
      const ps = await startCluster(target.binary, 'cn-listener', [{ cert: peerA, extra: ['--peer-cert-allowed-cn', 'peer-a'] }]);
      try {
        await waitFor(`ready\n${describeProc('m0', ps[0]!)}`, () => out(ps[0]!).includes(READY), 20_000);
        assert.match(await getPeerVersion(ps[0]!, peerA), /^200 /);
        assert.equal(await getPeerVersion(ps[0]!, peerB), 'error ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE');
        await waitFor('the refusal in the log', () => /rejected connection from .*client certificate authentication failed/.test(out(ps[0]!)), 5000);
      } finally {
        await stopAllProcs(ps);
      }
    });

    test('the right CN on every member: all three join', async () => {
      const ps = await startCluster(target.binary, 'ok', [0, 1, 2].map(() => ({ cert: peerA, extra: ['--peer-cert-allowed-cn', 'peer-a'] })));
      try {
        await expectCluster(ps, [0, 1, 2], 0, READY, false);
        for (const p of ps) assert.ok(!/bad certificate|authentication failed/.test(out(p)), describeProc('member', p));
      } finally {
        await stopAllProcs(ps);
      }
    });

    test('--peer-crl-file: connections of a revoked peer certificate are rejected', async () => {
      const crl = path.join(tmp, 'peer-b.crl');
      if (!fs.existsSync(crl)) {
        const d = fs.mkdtempSync(path.join(tmp, 'ca-db-'));
        fs.writeFileSync(path.join(d, 'index.txt'), '');
        fs.writeFileSync(path.join(d, 'crlnumber'), '01\n');
        fs.writeFileSync(path.join(d, 'ca.cnf'), '[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\ncrlnumber=crlnumber\ndefault_md=sha256\ndefault_crl_days=30\n');
        const ssl = (...a: string[]) => execFileSync('openssl', a, { cwd: d, stdio: 'pipe' });
        ssl('ca', '-config', 'ca.cnf', '-keyfile', certs.caKey, '-cert', certs.caCert, '-revoke', peerB.cert);
        ssl('ca', '-config', 'ca.cnf', '-keyfile', certs.caKey, '-cert', certs.caCert, '-gencrl', '-out', crl);
      }
      const serial = goSerialHex(x509(peerB.cert).serialNumber); // etcd: %x of big.Int.Bytes()
      const ps = await startCluster(target.binary, 'crl', [
        { cert: peerA, extra: ['--peer-crl-file', crl] },
        { cert: peerA, extra: ['--peer-crl-file', crl] },
        { cert: peerB, extra: [] },
      ]);
      try {
        await expectCluster(ps, [0, 1], 0, `transport: certificate serial ${serial} revoked`, false);
      } finally {
        await stopAllProcs(ps);
      }
    });

    test('--peer-trusted-ca-file alone requires a verified client certificate on the peer listener', async () => {
      const ps = await startCluster(target.binary, 'ca-only', [{ cert: peerA, extra: [], noClientCertAuth: true }]);
      try {
        await waitFor(`ready\n${describeProc('m0', ps[0]!)}`, () => out(ps[0]!).includes(READY), 20_000);
        assert.match(await getPeerVersion(ps[0]!, peerA), /^200 \{"etcdserver":"3\.4\.23"/);
        assert.match(await getPeerVersion(ps[0]!, undefined), /^error /);
        await waitFor('the refusal in the log', () => out(ps[0]!).includes("rejected connection from") && out(ps[0]!).includes("tls: client didn't provide a certificate"), 5000);
      } finally {
        await stopAllProcs(ps);
      }
    });

    test('--peer-cert-allowed-cn with --peer-cert-allowed-hostname: refused at start', async () => {
      const ps = await startCluster(target.binary, 'both', [{ cert: peerA, extra: ['--peer-cert-allowed-cn', 'a', '--peer-cert-allowed-hostname', 'b'] }]);
      try {
        await waitFor('exit', () => ps[0]!.exited !== undefined, 20_000);
        assert.match(out(ps[0]!), /C \| etcdmain: AllowedCN and AllowedHostname are mutually exclusive \(cn="a", hostname="b"\)/);
        assert.ok(!out(ps[0]!).includes(READY));
      } finally {
        await stopAllProcs(ps);
      }
    });
  });
}
