/**
 * @module commands/migrate
 * `etcdctl migrate --data-dir <dir> [--wal-dir <dir>] [--no-ttl] [--transformer <prog>]`
 * (etcdctl/ctlv3/command/migrate_command.go): copies the keys of a stopped etcd 3.4
 * member's v2 store into its v3 key space. In etcdctl's order:
 *
 * 1. the transformer is started (`--transformer`), else `using default transformer`
 *    is printed;
 * 2. the v2 store is rebuilt from the member's newest raft snapshot and its WAL
 *    (./migrate/rebuild.ts), etcd's zap lines printed on stdout on the way;
 * 3. the backend `<data-dir>/member/snap/db` is opened, waiting while a process holds
 *    its lock (`waiting for etcd to close and release its lock on "<db>"` on stderr
 *    after 1 s, as etcdctl waits for bbolt's flock);
 * 4. the nodes under `/1` go through the transformer (./migrate/transformer.ts); no
 *    `/1` directory at all prints `no v2 keys to migrate` and exits 0, the backend
 *    unchanged;
 * 5. each resulting key is written at revision {mod_revision, 0} and the consistent
 *    index raised to the last raft index (./migrate/backend.ts); then
 *    `finished transforming keys`.
 *
 * Errors print `Error: <etcd's text>` and exit 1 (a failed transformer: `failed to
 * transform keys` on stdout, then `Error: exit status N`). Deliberate differences,
 * where etcdctl crashes or leaves things to chance: a backend file that is not a bbolt
 * database is `Error: cannot open database at <db> (<why>)`, exit 1 (etcdctl panics,
 * exit 2); when the transformer fails, the backend is left unchanged (etcdctl's
 * uncommitted batch may or may not have reached the file); every frame the transformer
 * wrote is read, where etcdctl loses those it has not read yet when the transformer
 * exits (its cmd.Wait closes the pipe).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandSpec } from '../cli/command.js';
import { CliError, ExitError, SilentExit } from '../cli/exit-codes.js';
import { goQuote } from '../cli/go-format.js';
import { BoltError } from '../util/bbolt-reader.js';
import { V2Code, V2Error } from '../util/v2store/errors.js';
import type { NodeExtern } from '../util/v2store/event.js';
import { lockedByOther } from './defrag-data.js';
import { MigrateBackend, type MvccKeyValue } from './migrate/backend.js';
import { MigrateError, MigrateFatal, MigratePanic, rebuildStoreV2 } from './migrate/rebuild.js';
import { defaultTransform, ExternalTransformer, nodesJson, nodesToSend, TransformerStartError } from './migrate/transformer.js';

/** prepareBackend's wait: polls the lock, telling the user once after 1 s. */
async function waitForLock(db: string, tell: () => void): Promise<void> {
  const started = Date.now();
  let told = false;
  while (lockedByOther(db)) {
    if (!told && Date.now() - started >= 1000) {
      tell();
      told = true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const migrateCommand: CommandSpec = {
  use: 'migrate',
  short: 'Migrates keys in a v2 store to a mvcc store',
  light: true,
  flags: [
    { name: 'no-ttl', type: 'bool', default: false, usage: 'Do not convert TTL keys' },
    { name: 'data-dir', type: 'string', default: '', usage: 'Path to the data directory' },
    { name: 'wal-dir', type: 'string', default: '', usage: 'Path to the WAL directory' },
    { name: 'transformer', type: 'string', default: '', usage: 'Path to the user-provided transformer program' },
  ],
  async run(ctx) {
    const noTtl = ctx.flags.bool('no-ttl');
    const dataDir = ctx.flags.string('data-dir');
    const walDir = ctx.flags.string('wal-dir');
    const program = ctx.flags.string('transformer');
    const print = (s: string) => ctx.out.write(s);

    let external: ExternalTransformer | undefined;
    if (program !== '') {
      try {
        external = await ExternalTransformer.start(program, ctx.env);
      } catch (e) {
        if (e instanceof TransformerStartError) throw new CliError(ExitError, e.message);
        throw e;
      }
    } else {
      print('using default transformer\n');
    }

    let kvs: MvccKeyValue[];
    let backend: MigrateBackend;
    let index: bigint;
    try {
      const rebuilt = rebuildStoreV2(dataDir, walDir, print);
      index = rebuilt.index;

      const db = join(dataDir, 'member', 'snap', 'db');
      ctx.out.flush();
      await waitForLock(db, () => ctx.errWrite(`waiting for etcd to close and release its lock on ${goQuote(db)}\n`));
      try {
        backend = MigrateBackend.open(db);
      } catch (e) {
        if (e instanceof BoltError) throw new MigrateError(`cannot open database at ${db} (${e.message})`);
        throw e;
      }

      let all: NodeExtern;
      try {
        all = rebuilt.store.get('/1', true, true).node!;
      } catch (e) {
        if (e instanceof V2Error && e.errorCode === V2Code.KeyNotFound) {
          print('no v2 keys to migrate\n');
          // etcdctl's bbolt.Open creates a missing file
          if (!existsSync(db)) backend.commit();
          external?.abandon();
          return;
        }
        throw new MigrateError((e as Error).message);
      }
      const nodes = nodesToSend(all, noTtl);
      if (external) {
        external.send(nodesJson(nodes));
        const r = await external.finish();
        if (r.error !== undefined) {
          print('failed to transform keys\n');
          throw new CliError(ExitError, r.error);
        }
        kvs = r.kvs;
      } else {
        kvs = nodes.map(defaultTransform).filter((kv): kv is MvccKeyValue => kv !== undefined);
      }
    } catch (e) {
      external?.abandon();
      if (e instanceof MigrateError) throw new CliError(ExitError, e.message);
      if (e instanceof MigrateFatal) throw new SilentExit(ExitError);
      if (e instanceof MigratePanic) {
        if (e.logLine) print(e.logLine);
        ctx.out.flush();
        ctx.errWrite(`panic: ${e.message}\n`);
        throw new SilentExit(2);
      }
      throw e;
    }

    for (const kv of kvs) backend.writeKV(kv);
    backend.updateConsistentIndex(index);
    try {
      backend.commit();
    } catch (e) {
      throw new CliError(ExitError, (e as Error).message);
    }
    print('finished transforming keys\n');
  },
};
