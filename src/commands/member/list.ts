/**
 * @module commands/member/list
 * `etcdctl member list` (member_command.go): Cluster.MemberList in every format.
 */

import type { CommandSpec } from '../../cli/command.js';

export const memberListCommand: CommandSpec = {
  use: 'list',
  short: 'Lists all members in the cluster',
  long: `When --write-out is set to simple, this command prints out comma-separated member lists for each endpoint.
The items in the lists are ID, Status, Name, Peer Addrs, Client Addrs, Is Learner.
`,
  async run(ctx) {
    const display = ctx.display();
    const client = await ctx.client();
    display.memberList(await client.memberList());
  },
};
