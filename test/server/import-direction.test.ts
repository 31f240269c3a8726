// Imports go one way (architecture.md, "Architecture in one breath"):
//   commands → client (never server); client never imports commands, cli or server;
//   the Raft core (src/server/raft) is imported only by etcdserver (and raft itself),
//   except its message types, which the peer transport (rafthttp) encodes;
//   server never imports cli or commands.
// Shared code both sides use (bbolt reader, crc32c, protowire, Go error texts) lives in
// src/util. Type-only imports count too: they still tie the layers together.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { REPO_ROOT } from '../harness/run.js';

const SRC = join(REPO_ROOT, 'src');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? tsFiles(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
  );
}

/** Relative import targets of a file, as paths under src/ (e.g. "server/raft/types.ts"). */
function importsOf(file: string): string[] {
  const src = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  const out: string[] = [];
  for (const m of src.matchAll(/(?:from|import)\s*\(?\s*['"](\.[^'"]+)['"]/g)) {
    out.push(relative(SRC, resolve(dirname(file), m[1]!)).replace(/\.js$/, '.ts'));
  }
  return out;
}

interface Rule {
  /** Files the rule applies to (path under src/). */
  from: (p: string) => boolean;
  /** Targets they may not import. */
  banned: (target: string) => boolean;
  why: string;
}

const under = (dir: string) => (p: string) => p.startsWith(dir + '/');

const RULES: Rule[] = [
  { from: under('client'), banned: (t) => under('commands')(t) || under('cli')(t) || under('server')(t), why: 'the client layer imports neither commands, cli nor server' },
  { from: under('commands'), banned: under('server'), why: 'commands talk to servers through the client only' },
  { from: under('server'), banned: (t) => under('commands')(t) || under('cli')(t), why: 'the server does not import the CLI' },
  { from: under('embed'), banned: (t) => !under('embed')(t), why: 'the embedding API only starts processes (bin/etcd)' },
  {
    from: (p) => !under('server/raft')(p) && !under('server/etcdserver')(p),
    banned: (t) => under('server/raft')(t) && !(t === 'server/raft/types.ts'),
    why: 'the Raft core is driven only by etcdserver (rafthttp may use its message types)',
  },
  { from: (p) => !under('server/raft')(p) && !under('server/etcdserver')(p) && !under('server/rafthttp')(p), banned: (t) => t === 'server/raft/types.ts', why: 'raft message types belong to etcdserver and rafthttp' },
];

test('imports go one way between commands, client, server and the Raft core', () => {
  const violations: string[] = [];
  for (const file of tsFiles(SRC)) {
    const p = relative(SRC, file);
    for (const t of importsOf(file)) {
      for (const r of RULES) if (r.from(p) && r.banned(t)) violations.push(`${p} imports ${t}: ${r.why}`);
    }
  }
  assert.deepEqual(violations, []);
});

test('the rules catch a violation', () => {
  // a self-check so that the test above cannot pass vacuously
  const r = RULES[0]!;
  assert.ok(r.from('client/watch.ts') && r.banned('commands/watch.ts'));
  assert.ok(tsFiles(SRC).length > 100);
  assert.ok(importsOf(join(SRC, 'client', 'mirror.ts')).includes('client/watch.ts'));
});
