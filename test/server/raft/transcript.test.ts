// Transcript tests of the Raft core (the datadriven interaction tests of etcd-io/raft,
// with our own harness and scripts): every file in testdata/*.txt is a script of
// commands for the InteractionEnv (interaction/env.ts) with the expected output of
// each command. The output is produced by the core's describe* formatters and its log
// lines, so a changed line means changed protocol behaviour. The safety invariants of
// interaction/invariants.ts are checked after every step.
//
// RAFT_REWRITE=1 regenerates the expected outputs in the source tree (review the diff
// before committing it); RAFT_TRANSCRIPT=name runs only testdata/name.txt.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatFile, lineDiff, parseFile, parseLine } from './interaction/datadriven.js';
import { InteractionEnv } from './interaction/env.js';
import { REPO_ROOT } from '../../harness/run.js';

const dataDir = join(REPO_ROOT, 'test/server/raft/testdata');
const rewrite = process.env['RAFT_REWRITE'] === '1';
const only = process.env['RAFT_TRANSCRIPT'];
const files = readdirSync(dataDir)
  .filter((f) => f.endsWith('.txt'))
  .filter((f) => only === undefined || f === `${only}.txt` || f === only)
  .sort();

test('transcript files exist', () => {
  assert.ok(files.length > 0, `no transcripts in ${dataDir}`);
});

for (const f of files) {
  test(`transcript ${f}`, () => {
    const path = join(dataDir, f);
    const file = parseFile(readFileSync(path, 'utf8'), f);
    const env = new InteractionEnv();
    const outputs: string[] = [];
    const failures: string[] = [];
    for (const b of file.blocks) {
      const where = `${f}:${b.line}`;
      try {
        env.handle(b.command);
        for (const l of b.input) env.handle(parseLine(l));
      } catch (e) {
        // errors of the Raft core or the invariant checker end the script
        const out = env.output.take();
        throw new Error(`${where}: ${b.commandText}: ${(e as Error).stack ?? String(e)}\noutput so far:\n${out}`);
      }
      let out = env.output.take();
      if (out === '') out = 'ok';
      if (out.split('\n').some((l) => l.trim() === '')) throw new Error(`${where}: output contains an empty line`);
      outputs.push(out);
      if (!rewrite && out !== b.expected) {
        failures.push(`${where}: ${b.commandText}\n${lineDiff(b.expected, out)}`);
      }
    }
    if (rewrite) {
      writeFileSync(path, formatFile(file, outputs));
      return;
    }
    assert.equal(failures.length, 0, `output differs (- expected, + actual):\n\n${failures.join('\n\n')}`);
  });
}
