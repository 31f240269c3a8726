// Security regression suite, TLS part (--client-cert-auth with a trusted CA), real etcd
// 3.4.23 and ours side by side, the real etcdctl as the client:
// - a valid client certificate is served; none, one from another CA, and an expired
//   one (signed by the trusted CA, validity in 2020) are refused by both;
// - clients that open a TCP connection and never finish the TLS handshake (silent, or
//   a ClientHello cut short) do not stop the listener from serving others
//   (GHSA-6vch-q96h-7gc3 is about exhausting memory with many of them; here it is
//   that a handful cannot block the accept path).
// Error texts differ between Go's and Node's TLS stacks; what is compared is that the
// command fails (exit code) and that nothing was written.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeTestCerts, type TestCerts } from '../harness/certs.js';
import { startEtcd, stopAll, type EtcdProcess } from '../harness/etcd.js';
import { REAL, runCli } from '../harness/run.js';

let certs: TestCerts;
let expired: { cert: string; key: string };
let real: EtcdProcess;
let ours: EtcdProcess;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sec-tls-'));

/** A client certificate signed by the test CA that expired in 2020 (openssl ca with explicit dates). */
function makeExpiredClientCert(): { cert: string; key: string } {
  const p = (f: string) => path.join(dir, f);
  fs.writeFileSync(p('index.txt'), '');
  fs.writeFileSync(p('serial'), '1000\n');
  fs.writeFileSync(p('ca.cnf'), [
    '[ ca ]', 'default_ca = CA_default',
    '[ CA_default ]', `database = ${p('index.txt')}`, `new_certs_dir = ${dir}`, `serial = ${p('serial')}`,
    'default_md = sha256', 'policy = policy_any', 'x509_extensions = ext', 'unique_subject = no',
    '[ policy_any ]', 'commonName = supplied',
    '[ ext ]', 'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=clientAuth', '',
  ].join('\n'));
  const q = { stdio: 'pipe' as const };
  execFileSync('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('expired.key'), '-out', p('expired.csr'), '-subj', '/CN=root'], q);
  execFileSync('openssl', ['ca', '-batch', '-config', p('ca.cnf'), '-cert', certs.caCert, '-keyfile', certs.caKey,
    '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-notext', '-in', p('expired.csr'), '-out', p('expired.crt')], q);
  return { cert: p('expired.crt'), key: p('expired.key') };
}

before(async () => {
  certs = await makeTestCerts();
  expired = makeExpiredClientCert();
  const tlsOpts = { certFile: certs.serverCert, keyFile: certs.serverKey, trustedCAFile: certs.caCert, clientCertAuth: true };
  [real, ours] = await Promise.all([startEtcd({ tls: tlsOpts, serverKind: 'real' }), startEtcd({ tls: tlsOpts, serverKind: 'ours' })]);
});
after(async () => {
  await stopAll(real, ours);
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The real etcdctl against `s` with a client certificate (or none). */
function ctl(s: EtcdProcess, cert: { cert: string; key: string } | undefined, args: string[]) {
  const certArgs = cert ? [`--cert=${cert.cert}`, `--key=${cert.key}`] : [];
  return runCli(REAL, [`--endpoints=${s.clientURL}`, `--cacert=${certs.caCert}`, '--dial-timeout=3s', '--command-timeout=5s', ...certArgs, ...args]);
}

describe('security: client certificates with --client-cert-auth, ours vs real etcd 3.4.23', () => {
  const cases: Array<[string, () => { cert: string; key: string } | undefined, boolean]> = [
    ['a valid certificate', () => ({ cert: certs.clientCert, key: certs.clientKey }), true],
    ['no certificate', () => undefined, false],
    ['a certificate from another CA', () => ({ cert: certs.otherClientCert, key: certs.otherClientKey }), false],
    ['an expired certificate of the trusted CA', () => expired, false],
  ];
  for (const [what, cert, ok] of cases) {
    test(`${what}: ${ok ? 'served' : 'refused'}`, async () => {
      const key = `k-${what.replace(/\W+/g, '-')}`;
      for (const s of [real, ours]) {
        const put = await ctl(s, cert(), ['put', key, 'v']);
        assert.equal(put.code === 0, ok, `${s.kind}: exit ${put.code}: ${put.stderr}`);
        const get = await ctl(s, { cert: certs.clientCert, key: certs.clientKey }, ['get', key, '--print-value-only']);
        assert.equal(get.stdout.toString(), ok ? 'v\n' : '', `${s.kind}: ${get.stderr}`);
      }
    });
  }
});

describe('security: stalled TLS handshakes do not block the listener, ours vs real etcd 3.4.23', () => {
  // the first bytes of a TLS 1.2 ClientHello record: a handshake that never completes
  const PARTIAL_HELLO = Buffer.from('160301020001', 'hex');
  for (const name of ['real', 'ours'] as const) {
    test(`${name}: 40 silent and 40 half-hello connections, then a client is served`, async () => {
      const s = name === 'real' ? real : ours;
      const stalled: net.Socket[] = [];
      try {
        await Promise.all(Array.from({ length: 80 }, (_, i) => new Promise<void>((resolve, reject) => {
          const c = net.connect(s.clientPort, '127.0.0.1', () => {
            if (i % 2 === 1) c.write(PARTIAL_HELLO);
            resolve();
          });
          c.on('error', reject);
          stalled.push(c);
        })));
        const put = await ctl(s, { cert: certs.clientCert, key: certs.clientKey }, ['put', 'during-stall', 'v']);
        assert.equal(put.code, 0, put.stderr);
        // the stalled connections are still open (nothing closed them to make room)
        assert.ok(stalled.filter((c) => !c.destroyed).length >= 70);
      } finally {
        for (const c of stalled) c.destroy();
      }
    });
  }
});
