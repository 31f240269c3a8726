// kill -9: a child process appends with save() (8 saves in flight, small segments so it
// also cuts) and prints each index once its save resolved. The parent SIGKILLs it at a
// random moment; reopening must return every acknowledged index, contiguous from 1.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Wal } from '../../../src/server/wal/wal.js';

const walModule = pathToFileURL(fileURLToPath(new URL('../../../src/server/wal/wal.js', import.meta.url))).href;

const CHILD = `
import { Wal } from ${JSON.stringify(walModule)};
const dir = process.argv[2];
const wal = await Wal.create(dir, { nodeId: 1n, clusterId: 2n }, { segmentBytes: 4096 });
let next = 1;
async function worker() {
  for (;;) {
    const i = next++;
    const data = new Uint8Array(40 + (i % 90)).fill(i & 0xff);
    await wal.save({ term: 1, vote: 1n, commit: i - 1 }, [{ term: 1, index: i, type: 0, data }]);
    process.stdout.write(i + '\\n'); // synchronous for pipes on Linux: printed means durable
  }
}
for (let k = 0; k < 8; k++) void worker();
`;

/** Runs the child until it has acknowledged `minAcks` indexes, waits `delayMs` more, SIGKILLs it. Returns the acknowledged indexes. */
function runAndKill(script: string, dir: string, minAcks: number, delayMs: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let armed = false;
    const hardStop = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (!armed && out.split('\n').length > minAcks) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(hardStop);
      if (signal !== 'SIGKILL') return reject(new Error(`child exited ${code} ${signal}: ${err}`));
      // only complete lines are acknowledgements
      const lines = out.split('\n');
      lines.pop();
      resolve(lines.map(Number));
    });
  });
}

test('wal: every index acknowledged before SIGKILL is replayed', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'wal-crash-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const script = join(root, 'child.mjs');
  await writeFile(script, CHILD);
  for (let iter = 0; iter < 4; iter++) {
    const dir = join(root, `wal${iter}`);
    const minAcks = 20 + Math.floor(Math.random() * 200);
    const delayMs = Math.floor(Math.random() * 40);
    const acked = await runAndKill(script, dir, minAcks, delayMs);
    const what = `iteration ${iter} (minAcks ${minAcks}, delay ${delayMs} ms, ${acked.length} acks)`;
    assert.ok(acked.length >= minAcks, what);
    const maxAcked = Math.max(...acked);
    const r = await Wal.open(dir, { term: 0, index: 0 });
    try {
      const got = r.entries.map((x) => x.index);
      assert.ok(got.length >= maxAcked, `${what}: replayed ${got.length} < acknowledged ${maxAcked}`);
      got.forEach((v, i) => assert.equal(v, i + 1, what));
      for (const a of acked) assert.deepEqual(r.entries[a - 1]!.data, new Uint8Array(40 + (a % 90)).fill(a & 0xff), what);
      assert.ok(r.hardState.commit >= maxAcked - 1, what);
      // the recovered WAL accepts appends
      const n = got.length + 1;
      await r.wal.save({ term: 2, vote: 1n, commit: n - 1 }, [{ term: 2, index: n, type: 0, data: new Uint8Array(1) }]);
    } finally {
      await r.wal.close();
    }
  }
});
