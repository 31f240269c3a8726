/**
 * @module commands/alarm/list
 * `etcdctl alarm list`: Maintenance.Alarm with action GET (alarm_command.go).
 */

import { AlarmRequest_AlarmAction } from '../../gen/etcdserverpb/rpc_pb.js';
import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs } from '../../cli/exit-codes.js';

export const alarmListCommand: CommandSpec = {
  use: 'list',
  short: 'Lists all alarms',
  async run(ctx) {
    if (ctx.args.length !== 0) throw new CliError(ExitBadArgs, 'alarm list command accepts no arguments');
    const display = ctx.display();
    const client = await ctx.client();
    display.alarm(await client.alarm({ action: AlarmRequest_AlarmAction.GET }));
  },
};
