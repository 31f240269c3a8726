/**
 * @module commands/move-leader
 * `etcdctl move-leader <transferee-member-id>` (etcdctl move_leader_command.go): finds
 * the leader by asking each endpoint for its Status (the first endpoint whose member
 * is the leader), then sends Maintenance.MoveLeader to it. As etcdctl, each endpoint
 * gets a client of its own (a failed connection is exit 2) and the leader's client
 * sends MoveLeader. All of it shares one command timeout.
 */

import type { CommandSpec } from '../cli/command.js';
import { CliError, ExitBadArgs } from '../cli/exit-codes.js';
import { GoParseError, parseGoUint } from '../cli/go-format.js';
import type { EtcdClient } from '../client/client.js';

export const moveLeaderCommand: CommandSpec = {
  use: 'move-leader <transferee-member-id>',
  short: 'Transfers leadership to another etcd cluster member.',
  async run(ctx) {
    if (ctx.args.length !== 1) throw new CliError(ExitBadArgs, 'move-leader command needs 1 argument');
    let target: bigint;
    try {
      target = parseGoUint(ctx.args[0]!, 16);
    } catch (e) {
      if (e instanceof GoParseError) throw new CliError(ExitBadArgs, e.message);
      throw e;
    }
    const display = ctx.display();
    const client = await ctx.client();
    const eps = client.endpointList;
    client.close();
    const g = ctx.globals();
    const { makeClient } = await import('../cli/connect.js');
    const timeoutMs = ctx.globals().commandTimeoutMs;
    const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : 0;
    const remaining = () => (deadline === 0 ? 0 : Math.max(1, deadline - Date.now()));

    let leaderCli: EtcdClient | undefined;
    let leaderID = 0n;
    const opened: EtcdClient[] = [];
    try {
      for (const ep of eps) {
        const cli = await makeClient({ ...g, endpoints: [ep] }, ctx.errWrite);
        opened.push(cli);
        const one = cli.forEndpoint(ep);
        opened.push(one);
        const resp = await one.status({ timeoutMs: remaining() });
        if ((resp.header?.memberId ?? 0n) === resp.leader) {
          leaderCli = cli;
          leaderID = resp.leader;
          break;
        }
      }
      if (!leaderCli) throw new CliError(ExitBadArgs, `no leader endpoint given at [${eps.join(' ')}]`);
      const resp = await leaderCli.moveLeader(target, { timeoutMs: remaining() });
      display.moveLeader(leaderID, target, resp);
    } finally {
      for (const c of opened) c.close();
    }
  },
};
