// End to end: bin/etcd (EtcdServer + embed/serve.ts + v3rpc) with the real
// etcdctl 3.4.23 and HTTP on the same client port.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getFreePorts } from '../../harness/ports.js';
import { describeProc, startProc, stopProc, waitFor, type Proc } from '../../harness/proc.js';
import { errorLine, REAL, REPO_ROOT, runCli } from '../../harness/run.js';

describe('bin/etcd client port (v3rpc + etcdhttp)', () => {
  let proc: Proc;
  let ep: string;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'v3rpc-e2e-'));
  before(async () => {
    const [c, p] = await getFreePorts(2);
    ep = `127.0.0.1:${c}`;
    proc = startProc(path.join(REPO_ROOT, 'bin', 'etcd'), [
      '--data-dir', path.join(dir, 'data'),
      '--listen-client-urls', `http://${ep}`, '--advertise-client-urls', `http://${ep}`,
      '--listen-peer-urls', `http://127.0.0.1:${p}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${p}`,
      '--initial-cluster', `default=http://127.0.0.1:${p}`,
    ]);
    await waitFor(`bin/etcd healthy\n${describeProc('etcd', proc)}`, async () => {
      const r = await fetch(`http://${ep}/health`).catch(() => undefined);
      return r?.status === 200;
    });
  });
  after(async () => {
    if (proc) await stopProc(proc);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const ctl = (args: string[], stdin?: string) => runCli(REAL, [`--endpoints=${ep}`, '--command-timeout=5s', ...args], { stdin, timeoutMs: 20_000 });

  it('put/get, txn checks, watch, snapshot stream, /version', async () => {
    assert.equal((await ctl(['put', 'k', 'v'])).stdout.toString(), 'OK\n');
    assert.equal((await ctl(['get', 'k'])).stdout.toString(), 'k\nv\n');
    assert.equal(errorLine((await ctl(['txn'], '\nput a 1\nput a 2\n\n\n')).stderr), 'Error: etcdserver: duplicate key given in txn request');
    assert.equal(errorLine((await ctl(['get', 'k', '--rev=99'])).stderr), 'Error: etcdserver: mvcc: required revision is a future revision');
    const w = runCli(REAL, [`--endpoints=${ep}`, 'watch', 'k', '--rev=1'], { timeoutMs: 3000 });
    const out = (await w).stdout.toString();
    assert.equal(out, 'PUT\nk\nv\n');
    const file = path.join(dir, 'snap.db');
    const s = await ctl(['snapshot', 'save', file]);
    assert.match(s.stdout.toString() + s.stderr, /Snapshot saved at/);
    const r = await fetch(`http://${ep}/version`);
    assert.equal(await r.text(), '{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}');
  });
});
