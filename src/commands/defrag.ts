/**
 * @module commands/defrag
 * `etcdctl defrag [--cluster]`: Maintenance.Defragment of each endpoint in turn
 * (etcdctl defrag_command.go). Prints `Finished defragmenting etcd member[<ep>]` per
 * success (plain text in every output format), `Failed to defragment etcd
 * member[<ep>] (<err>)` on stderr per failure, and exits 1 if any failed.
 *
 * `--data-dir <dir>` defragments a stopped member's backend file instead (etcd's bbolt
 * or our server's LMDB; ./defrag-data.ts): nothing printed on success, `Failed to
 * defragment etcd data[<dir>] (<err>)` and exit 1 on failure.
 */

import type { CommandSpec } from '../cli/command.js';
import { ExitError, SilentExit } from '../cli/exit-codes.js';
import { CLUSTER_FLAG, endpointsFromCluster } from './endpoint/from-cluster.js';
import { defragDataDir } from './defrag-data.js';
import { goQuote } from '../cli/go-format.js';

export const defragCommand: CommandSpec = {
  use: 'defrag',
  short: 'Defragments the storage of the etcd members with given endpoints',
  persistentFlags: [{ ...CLUSTER_FLAG }],
  flags: [{ name: 'data-dir', type: 'string', default: '', usage: 'Optional. If present, defragments a data directory not in use by etcd.' }],
  async run(ctx) {
    const dataDir = ctx.flags.string('data-dir');
    if (dataDir.length > 0) {
      try {
        await defragDataDir(dataDir, (db) =>
          ctx.errWrite(`waiting for etcd to close and release its lock on ${goQuote(db)}. To defrag a running etcd instance, omit --data-dir.\n`),
        );
      } catch (e) {
        ctx.errWrite(`Failed to defragment etcd data[${dataDir}] (${(e as Error).message})\n`);
        throw new SilentExit(ExitError);
      }
      return;
    }
    const client = await ctx.client();
    let failures = 0;
    for (const ep of await endpointsFromCluster(ctx)) {
      const one = client.forEndpoint(ep);
      try {
        await one.defragment();
        ctx.out.write(`Finished defragmenting etcd member[${ep}]\n`);
      } catch (e) {
        failures++;
        ctx.errWrite(`Failed to defragment etcd member[${ep}] (${(e as Error).message})\n`);
      } finally {
        one.close();
      }
    }
    if (failures !== 0) throw new SilentExit(ExitError);
  },
};
