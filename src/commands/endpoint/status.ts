/**
 * @module commands/endpoint/status
 * `etcdctl endpoint status`: Maintenance.Status of each endpoint, one at a time
 * (ep_command.go epStatusCommandFunc). A failing endpoint is reported on stderr as
 * `Failed to get the status of endpoint <ep> (<err>)`, the others are printed, and the
 * exit code is 1 without an `Error:` line.
 */

import type { CommandSpec } from '../../cli/command.js';
import { SilentExit, ExitError } from '../../cli/exit-codes.js';
import type { EpStatus } from '../../cli/printer/maintenance.js';
import { endpointsFromCluster } from './from-cluster.js';

export const endpointStatusCommand: CommandSpec = {
  use: 'status',
  short: 'Prints out the status of endpoints specified in `--endpoints` flag',
  long: `When --write-out is set to simple, this command prints out comma-separated status lists for each endpoint.
The items in the lists are endpoint, ID, version, db size, is leader, is learner, raft term, raft index, raft applied index, errors.
`,
  async run(ctx) {
    const display = ctx.display();
    const client = await ctx.client();
    const list: EpStatus[] = [];
    let failed = false;
    for (const ep of await endpointsFromCluster(ctx)) {
      const one = client.forEndpoint(ep);
      try {
        list.push({ ep, resp: await one.status() });
      } catch (e) {
        failed = true;
        ctx.errWrite(`Failed to get the status of endpoint ${ep} (${(e as Error).message})\n`);
      } finally {
        one.close();
      }
    }
    display.endpointStatus(list);
    if (failed) throw new SilentExit(ExitError);
  },
};
