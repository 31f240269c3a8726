/**
 * @module commands/endpoint/health
 * `etcdctl endpoint health`: for every endpoint, a separate client reads the key
 * `health` (linearizable, so it needs a working raft); permission denied also counts
 * as healthy (ep_command.go epHealthCommandFunc). Checks run concurrently; results are
 * printed in input order. Any unhealthy endpoint → `Error: unhealthy cluster`, exit 1.
 */

import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs, ExitError } from '../../cli/exit-codes.js';
import { formatGoDuration } from '../../cli/go-format.js';
import { EtcdError } from '../../client/errors.js';
import type { EpHealth } from '../../cli/printer/maintenance.js';
import { endpointsFromCluster } from './from-cluster.js';

export const endpointHealthCommand: CommandSpec = {
  use: 'health',
  short: 'Checks the healthiness of endpoints specified in `--endpoints` flag',
  async run(ctx) {
    const display = ctx.display();
    const g = ctx.globals();
    const eps = await endpointsFromCluster(ctx);
    const { makeClient } = await import('../../cli/connect.js');
    const check = async (ep: string): Promise<EpHealth> => {
      let cli;
      try {
        cli = await makeClient({ ...g, endpoints: [ep] }, ctx.errWrite);
      } catch (e) {
        if (e instanceof CliError && e.code === ExitBadArgs) throw e;
        return { ep, health: false, took: '', error: (e as Error).message };
      }
      const st = process.hrtime.bigint();
      try {
        let error = '';
        try {
          await cli.range({ key: Buffer.from('health') });
        } catch (e) {
          if (!(e instanceof EtcdError && e.is('etcdserver: permission denied'))) error = (e as Error).message;
        }
        const took = formatGoDuration(Number(process.hrtime.bigint() - st));
        return { ep, health: error === '', took, error };
      } finally {
        cli.close();
      }
    };
    const list = await Promise.all(eps.map(check));
    display.endpointHealth(list);
    if (list.some((h) => h.error !== '')) throw new CliError(ExitError, 'unhealthy cluster');
  },
};
