/**
 * @module commands/endpoint/health
 * `etcdctl endpoint health`: for every endpoint, a separate client reads the key
 * `health` (linearizable, so it needs a working raft); permission denied also counts
 * as healthy (ep_command.go epHealthCommandFunc). Checks run concurrently; results are
 * printed in input order. Any unhealthy endpoint → `Error: unhealthy cluster`, exit 1.
 *
 * Like etcdctl 3.5+ (and unlike 3.4), a healthy endpoint is then asked for its alarms:
 * an active alarm makes it unhealthy with `Active Alarm(s): NOSPACE ` (one name and a
 * space per alarm), and a failed AlarmList with `Unable to fetch the alarm list`.
 */

import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs, ExitError } from '../../cli/exit-codes.js';
import { formatGoDuration } from '../../cli/go-format.js';
import { EtcdError } from '../../client/errors.js';
import { AlarmRequest_AlarmAction, AlarmType } from '../../gen/etcdserverpb/rpc_pb.js';
import type { EpHealth } from '../../cli/printer/maintenance.js';
import { endpointsFromCluster } from './from-cluster.js';

/** The 3.5+ alarm part of a health check: '' when there is no active alarm. */
async function alarmError(cli: import('../../client/client.js').EtcdClient): Promise<string> {
  try {
    const resp = await cli.alarm({ action: AlarmRequest_AlarmAction.GET, memberID: 0n, alarm: AlarmType.NONE });
    if (resp.alarms.length === 0) return '';
    let msg = 'Active Alarm(s): ';
    for (const a of resp.alarms) msg += a.alarm === AlarmType.NOSPACE ? 'NOSPACE ' : a.alarm === AlarmType.CORRUPT ? 'CORRUPT ' : 'UNKNOWN ';
    return msg;
  } catch {
    return 'Unable to fetch the alarm list';
  }
}

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
        if (error === '') error = await alarmError(cli);
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
