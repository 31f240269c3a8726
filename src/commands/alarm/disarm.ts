/**
 * @module commands/alarm/disarm
 * `etcdctl alarm disarm`: disarms every alarm, as clientv3's AlarmDisarm with an empty
 * AlarmMember does: list the alarms, send one DEACTIVATE per alarm, and report the
 * deactivated alarms in a response without header (maintenance.go).
 */

import { create } from '@bufbuild/protobuf';
import { AlarmRequest_AlarmAction, AlarmResponseSchema, type AlarmMember } from '../../gen/etcdserverpb/rpc_pb.js';
import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs } from '../../cli/exit-codes.js';

export const alarmDisarmCommand: CommandSpec = {
  use: 'disarm',
  short: 'Disarms all alarms',
  async run(ctx) {
    if (ctx.args.length !== 0) throw new CliError(ExitBadArgs, 'alarm disarm command accepts no arguments');
    const display = ctx.display();
    const client = await ctx.client();
    const listed = await client.alarm({ action: AlarmRequest_AlarmAction.GET });
    const disarmed: AlarmMember[] = [];
    for (const a of listed.alarms) {
      const r = await client.alarm({ action: AlarmRequest_AlarmAction.DEACTIVATE, memberID: a.memberID, alarm: a.alarm });
      disarmed.push(...r.alarms);
    }
    display.alarm(create(AlarmResponseSchema, { alarms: disarmed }));
  },
};
