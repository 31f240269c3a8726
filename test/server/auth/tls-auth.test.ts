// Client certificates and auth, ours vs real etcd 3.4.23, with certificates made by
// openssl here:
// - --client-cert-auth with auth enabled: without a token the certificate's common
//   name is the user (etcd auth store AuthInfoFromTLS); a token wins over it; a
//   request carrying the gRPC gateway's metadata never uses the CN;
// - --client-crl-file: a revoked client certificate is refused after the handshake,
//   one that is not revoked connects.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RangeRequestSchema, RangeResponseSchema } from '../../../src/gen/etcdserverpb/rpc_pb.js';
import { startOurEtcd, startRealEtcd, stopAll, type EtcdProcess, type EtcdTlsOptions } from '../../harness/etcd.js';
import { REAL, runCli, stripLogLines } from '../../harness/run.js';
import { RawClient } from './grpc-raw.js';
import { goSerialHex } from '../../../src/server/embed/crl.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-tls-'));
const f = (n: string) => path.join(dir, n);
const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

/** A leaf certificate `name` with common name `cn`, signed by the CA. */
function leaf(name: string, cn: string, server = false): void {
  ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`);
  ssl('req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
  fs.writeFileSync(f(`${name}.ext`), server
    ? 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n'
    : 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n');
  ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', `0x${randomBytes(8).toString('hex')}`,
    '-days', '3650', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.crt`);
}

/** CA, server certificate, client certificates by CN, one revoked (openssl ca -revoke) and the CRL. */
function makePki(): void {
  ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ca.key');
  ssl('req', '-x509', '-new', '-key', 'ca.key', '-out', 'ca.crt', '-days', '3650', '-subj', '/CN=auth-test-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  leaf('server', 'auth-test-server', true);
  leaf('root', 'root');
  leaf('user', 'u');
  leaf('nosuch', 'nosuch');
  leaf('revoked', 'root');
  fs.writeFileSync(f('index.txt'), '');
  fs.writeFileSync(f('crlnumber'), '01\n');
  fs.writeFileSync(f('ca.cnf'), '[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\ncrlnumber=crlnumber\ndefault_md=sha256\ndefault_crl_days=30\n');
  ssl('ca', '-config', 'ca.cnf', '-keyfile', 'ca.key', '-cert', 'ca.crt', '-revoke', 'revoked.crt');
  ssl('ca', '-config', 'ca.cnf', '-keyfile', 'ca.key', '-cert', 'ca.crt', '-gencrl', '-out', 'crl.pem');
}

const TLS = (): EtcdTlsOptions => ({ certFile: f('server.crt'), keyFile: f('server.key'), trustedCAFile: f('ca.crt'), clientCertAuth: true });
const certArgs = (name: string) => [`--cacert=${f('ca.crt')}`, `--cert=${f(`${name}.crt`)}`, `--key=${f(`${name}.key`)}`];

/** Runs real etcdctl against `s`; exit code, stdout (endpoint and hashes masked) and non-log stderr. */
async function ctl(s: EtcdProcess, args: string[]): Promise<string> {
  const r = await runCli(REAL, [`--endpoints=${s.clientURL}`, '--dial-timeout=2s', '--command-timeout=4s', ...args]);
  const out = r.stdout.toString().split(s.clientURL).join('EP').split(s.endpoint).join('EP').replace(/, \d+\n/g, ', HASH\n').replace(/lease [0-9a-f]+ granted/, 'lease ID granted');
  return `${r.code} ${out}${stripLogLines(r.stderr).split(s.endpoint).join('EP')}`;
}

before(makePki);
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('--client-cert-auth: the certificate CN is the user, ours vs real etcd 3.4.23', () => {
  let real: EtcdProcess;
  let ours: EtcdProcess;
  before(async () => {
    [real, ours] = await Promise.all([startRealEtcd({ tls: TLS() }), startOurEtcd({ tls: TLS() })]);
    for (const s of [real, ours]) {
      for (const args of [
        ['user', 'add', 'root:rootpw'], ['user', 'grant-role', 'root', 'root'], ['role', 'add', 'r'],
        ['role', 'grant-permission', 'r', 'read', 'k'], ['user', 'add', 'u:upw'], ['user', 'grant-role', 'u', 'r'],
        ['put', 'k', 'v'], ['auth', 'enable'],
      ]) {
        const out = await ctl(s, [...certArgs('root'), ...args]);
        assert.match(out, /^0 /, `${args.join(' ')}: ${out}`);
      }
    }
  });
  after(() => stopAll(real, ours));

  const CASES: Array<[string, string[]]> = [
    ['root', ['get', 'k']], ['root', ['put', 'k2', 'v']], ['root', ['user', 'list']], ['root', ['endpoint', 'hashkv']], ['root', ['lease', 'grant', '60']],
    ['user', ['get', 'k']], ['user', ['put', 'k', 'x']], ['user', ['user', 'list']], ['user', ['user', 'get', 'u']], ['user', ['endpoint', 'hashkv']],
    ['user', ['member', 'add', 'm', '--peer-urls=http://127.0.0.1:9', '--learner']],
    ['nosuch', ['get', 'k']], ['nosuch', ['user', 'list']], ['nosuch', ['defrag']],
    // a token wins over the certificate
    ['user', ['--user=root:rootpw', 'user', 'list']], ['root', ['--user=u:upw', 'user', 'list']], ['root', ['--user=u:wrong', 'get', 'k']],
  ];
  for (const [cert, args] of CASES) {
    test(`CN ${cert}: etcdctl ${args.join(' ')}`, async () => {
      const want = await ctl(real, [...certArgs(cert), ...args]);
      const got = await ctl(ours, [...certArgs(cert), ...args]);
      assert.equal(got, want);
    });
  }

  test('watch streams use the CN too (allowed and refused)', async () => {
    const watch = async (s: EtcdProcess, cert: string, key: string) => {
      // the watch stays open: it is ended after 3 s and its output compared
      const r = await runCli(REAL, [`--endpoints=${s.clientURL}`, ...certArgs(cert), 'watch', key, '--rev=1'], { timeoutMs: 3000 });
      return r.stdout.toString();
    };
    const want = [await watch(real, 'user', 'k'), await watch(real, 'user', 'x')];
    assert.equal(want[0], 'PUT\nk\nv\n');
    assert.deepEqual([await watch(ours, 'user', 'k'), await watch(ours, 'user', 'x')], want);
  });

  test('a request with the gRPC gateway metadata does not use the CN', async () => {
    const outcome = async (s: EtcdProcess, md?: Record<string, string>) => {
      const c = new RawClient(s.endpoint, { tls: { ca: fs.readFileSync(f('ca.crt')), cert: fs.readFileSync(f('root.crt')), key: fs.readFileSync(f('root.key')) } });
      try {
        return await c.unaryOutcome('/etcdserverpb.KV/Range', RangeRequestSchema, { key: new TextEncoder().encode('k') }, RangeResponseSchema, undefined, md);
      } finally {
        c.close();
      }
    };
    const gw = { 'grpcgateway-accept': 'application/json' };
    const want = [await outcome(real), await outcome(real, gw)];
    assert.notEqual(want[0], want[1]);
    assert.deepEqual([await outcome(ours), await outcome(ours, gw)], want);
  });
});

describe('--client-crl-file: revoked client certificates are refused, ours vs real etcd 3.4.23', () => {
  let real: EtcdProcess;
  let ours: EtcdProcess;
  before(async () => {
    const opts = { tls: TLS(), extraArgs: [`--client-crl-file=${f('crl.pem')}`] };
    [real, ours] = await Promise.all([startRealEtcd(opts), startOurEtcd(opts)]);
  });
  after(() => stopAll(real, ours));

  for (const cert of ['root', 'revoked']) {
    test(`etcdctl put with the ${cert} certificate`, async () => {
      const [want, got] = await Promise.all([ctl(real, [...certArgs(cert), 'put', 'a', 'b']), ctl(ours, [...certArgs(cert), 'put', 'a', 'b'])]);
      assert.equal(got, want);
    });
  }

  test('the refusal is logged with the revoked serial', () => {
    const serial = execFileSync('openssl', ['x509', '-in', f('revoked.crt'), '-noout', '-serial'], { encoding: 'utf8' }).trim().replace(/^serial=/, '').toLowerCase();
    const goSerial = goSerialHex(serial); // %x of big.Int.Bytes(): two digits per byte, no 00 pad byte
    const reasons = (s: EtcdProcess) => [...new Set(s.log().split('\n').filter((l) => l.includes('"rejected connection"')).map((l) => (JSON.parse(l) as { error: string }).error).filter((e) => e.includes('revoked')))];
    assert.deepEqual(reasons(real), [`transport: certificate serial ${goSerial} revoked`]);
    assert.deepEqual(reasons(ours), reasons(real));
  });
});
