// parseCrlSerials (embed/crl.ts) on CRLs made by openssl: PEM and DER, empty and with
// revoked serials (one with a leading zero byte in its DER encoding), against the
// serials openssl itself prints.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { goSerialHex, normalizeSerial, parseCrlSerials } from '../../../src/server/embed/crl.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crl-unit-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe', encoding: 'utf8' });

test('revoked serials of PEM and DER CRLs equal what openssl lists', () => {
  ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ca.key');
  ssl('req', '-x509', '-new', '-key', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=crl-unit-ca');
  fs.writeFileSync(path.join(dir, 'index.txt'), '');
  fs.writeFileSync(path.join(dir, 'crlnumber'), '01\n');
  fs.writeFileSync(path.join(dir, 'ca.cnf'), '[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\ncrlnumber=crlnumber\ndefault_md=sha256\ndefault_crl_days=30\n');
  const gencrl = (name: string) => {
    ssl('ca', '-config', 'ca.cnf', '-keyfile', 'ca.key', '-cert', 'ca.crt', '-gencrl', '-out', `${name}.pem`);
    ssl('crl', '-in', `${name}.pem`, '-outform', 'DER', '-out', `${name}.der`);
  };
  gencrl('empty');
  // serials: 0x80... needs a leading zero byte in DER; 0x01 is short
  for (const [i, serial] of ['0x8000000000000001', '0x01', '0x7fb5e4207a63a6b0'].entries()) {
    ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `l${i}.key`);
    ssl('req', '-new', '-key', `l${i}.key`, '-out', `l${i}.csr`, '-subj', `/CN=l${i}`);
    ssl('x509', '-req', '-in', `l${i}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', serial, '-days', '30', '-out', `l${i}.crt`);
    ssl('ca', '-config', 'ca.cnf', '-keyfile', 'ca.key', '-cert', 'ca.crt', '-revoke', `l${i}.crt`);
  }
  gencrl('full');
  const listed = [...ssl('crl', '-in', 'full.pem', '-noout', '-text').matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => normalizeSerial(m[1]!)).sort();
  assert.equal(listed.length, 3);
  for (const ext of ['pem', 'der']) {
    assert.deepEqual([...parseCrlSerials(fs.readFileSync(path.join(dir, `full.${ext}`)))].sort(), listed, ext);
    assert.equal(parseCrlSerials(fs.readFileSync(path.join(dir, `empty.${ext}`))).size, 0, ext);
  }
  assert.throws(() => parseCrlSerials(fs.readFileSync(path.join(dir, 'ca.crt'))), /no CRL/);
  assert.throws(() => parseCrlSerials(Buffer.from('not a crl')));
});

test("goSerialHex: etcd's %x of big.Int.Bytes() (two digits per byte, no sign-padding 00 byte)", () => {
  assert.equal(goSerialHex('06b2acc20e4a8a5b'), '06b2acc20e4a8a5b');
  assert.equal(goSerialHex('6b2acc20e4a8a5b'), '06b2acc20e4a8a5b');
  assert.equal(goSerialHex('00c2acc20e4a8a5b'), 'c2acc20e4a8a5b');
  assert.equal(goSerialHex('ab'), 'ab');
});
