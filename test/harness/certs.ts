// Test PKI generated with the openssl CLI.
//
//   ca.crt / ca.key                 test CA ("etcd-test-ca")
//   server.crt / server.key         CN=etcd-test-server, SAN IP:127.0.0.1, DNS:localhost,
//                                   EKU serverAuth+clientAuth, signed by ca
//   client.crt / client.key         CN=root, EKU clientAuth, signed by ca
//   other-ca.crt / other-ca.key     a second, unrelated CA ("etcd-test-other-ca")
//   other-client.crt / .key         CN=root signed by other-ca (client cert from an unknown CA)
//   other-server.crt / .key         server cert (same SANs) signed by other-ca
//
// Keys are ECDSA P-256 (fast to generate; Go and Node both accept PKCS#8 EC keys).
// Generation happens once per test process and per directory; later calls
// return the cached paths.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface TestCerts {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  otherCaCert: string;
  otherCaKey: string;
  otherClientCert: string;
  otherClientKey: string;
  otherServerCert: string;
  otherServerKey: string;
}

const cache = new Map<string, Promise<TestCerts>>();
let defaultDir: string | undefined;

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileP('openssl', args, { cwd, timeout: 30_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}

async function genKey(dir: string, name: string): Promise<void> {
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`], dir);
}

async function makeCa(dir: string, name: string, cn: string): Promise<void> {
  await genKey(dir, name);
  await openssl([
    'req', '-x509', '-new', '-key', `${name}.key`, '-out', `${name}.crt`, '-days', '3650',
    '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ], dir);
}

async function makeLeaf(dir: string, name: string, ca: string, cn: string, ext: string): Promise<void> {
  await genKey(dir, name);
  await openssl(['req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
  fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
  await openssl([
    'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`,
    '-set_serial', '0x' + randomBytes(8).toString('hex'),
    '-days', '3650', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.crt`,
  ], dir);
  fs.rmSync(path.join(dir, `${name}.csr`), { force: true });
  fs.rmSync(path.join(dir, `${name}.ext`), { force: true });
}

const SERVER_EXT = [
  'basicConstraints=critical,CA:FALSE',
  'keyUsage=critical,digitalSignature,keyEncipherment',
  'extendedKeyUsage=serverAuth,clientAuth',
  'subjectAltName=IP:127.0.0.1,DNS:localhost',
  '',
].join('\n');

const CLIENT_EXT = [
  'basicConstraints=critical,CA:FALSE',
  'keyUsage=critical,digitalSignature,keyEncipherment',
  'extendedKeyUsage=clientAuth',
  '',
].join('\n');

async function generate(dir: string): Promise<TestCerts> {
  fs.mkdirSync(dir, { recursive: true });
  await Promise.all([
    makeCa(dir, 'ca', 'etcd-test-ca'),
    makeCa(dir, 'other-ca', 'etcd-test-other-ca'),
  ]);
  await Promise.all([
    makeLeaf(dir, 'server', 'ca', 'etcd-test-server', SERVER_EXT),
    makeLeaf(dir, 'client', 'ca', 'root', CLIENT_EXT),
    makeLeaf(dir, 'other-client', 'other-ca', 'root', CLIENT_EXT),
    makeLeaf(dir, 'other-server', 'other-ca', 'etcd-test-server', SERVER_EXT),
  ]);
  const p = (f: string) => path.join(dir, f);
  return {
    dir,
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    otherCaCert: p('other-ca.crt'),
    otherCaKey: p('other-ca.key'),
    otherClientCert: p('other-client.crt'),
    otherClientKey: p('other-client.key'),
    otherServerCert: p('other-server.crt'),
    otherServerKey: p('other-server.key'),
  };
}

/** Options of {@link makeLeafCert}. */
export interface LeafCertOptions {
  /** Subject CommonName. */
  cn: string;
  /** DNS subjectAltNames (default none). */
  dns?: string[];
  /** IP subjectAltNames (default none). */
  ips?: string[];
}

/**
 * A certificate for a member's peer (or client) listener signed by `certs`' test CA
 * (EKU serverAuth+clientAuth), with the given CN and SANs, written as
 * `<dir>/<name>.crt` / `.key`; e.g. for --peer-cert-allowed-cn / -hostname tests.
 * Returns the paths.
 */
export async function makeLeafCert(certs: TestCerts, name: string, o: LeafCertOptions): Promise<{ cert: string; key: string }> {
  const san = [...(o.dns ?? []).map((d) => `DNS:${d}`), ...(o.ips ?? []).map((i) => `IP:${i}`)];
  const ext = [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth,clientAuth',
    ...(san.length ? [`subjectAltName=${san.join(',')}`] : []),
    '',
  ].join('\n');
  await makeLeaf(certs.dir, name, 'ca', o.cn, ext);
  return { cert: path.join(certs.dir, `${name}.crt`), key: path.join(certs.dir, `${name}.key`) };
}

/**
 * Generates (once per process per directory) a CA, server/client certs and an
 * unrelated second CA. Without `dir`, a temp directory under os.tmpdir() is
 * used and removed when the process exits.
 */
export function makeTestCerts(dir?: string): Promise<TestCerts> {
  if (dir === undefined) {
    if (defaultDir === undefined) {
      defaultDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-test-certs-'));
      const d = defaultDir;
      process.once('exit', () => {
        try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* ignore */ }
      });
    }
    dir = defaultDir;
  }
  const key = path.resolve(dir);
  let p = cache.get(key);
  if (!p) {
    p = generate(key);
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}
