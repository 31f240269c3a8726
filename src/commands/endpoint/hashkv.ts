/**
 * @module commands/endpoint/hashkv
 * `etcdctl endpoint hashkv [--rev N]`: Maintenance.HashKV of each endpoint
 * (ep_command.go epHashKVCommandFunc). A failing endpoint is reported on stderr as
 * `Failed to get the hash of endpoint <ep> (<err>)`; after printing the others the
 * command ends with `Error: <last error>`, exit 1.
 */

import type { CommandSpec } from '../../cli/command.js';
import type { EpHashKV } from '../../cli/printer/maintenance.js';
import { endpointsFromCluster } from './from-cluster.js';

export const endpointHashKVCommand: CommandSpec = {
  use: 'hashkv',
  short: 'Prints the KV history hash for each endpoint in --endpoints',
  persistentFlags: [{ name: 'rev', type: 'int', default: 0n, usage: 'maximum revision to hash (default: all revisions)' }],
  async run(ctx) {
    const display = ctx.display();
    const client = await ctx.client();
    const rev = ctx.flags.int('rev');
    const list: EpHashKV[] = [];
    let err: unknown;
    for (const ep of await endpointsFromCluster(ctx)) {
      const one = client.forEndpoint(ep);
      try {
        list.push({ ep, resp: await one.hashKV(rev) });
      } catch (e) {
        err = e;
        ctx.errWrite(`Failed to get the hash of endpoint ${ep} (${(e as Error).message})\n`);
      } finally {
        one.close();
      }
    }
    display.endpointHashKV(list);
    if (err !== undefined) throw err;
  },
};
