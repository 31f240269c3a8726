/**
 * @module commands/member/promote
 * `etcdctl member promote <memberID>` (member_command.go). etcdctl 3.4 can print the
 * result only in the simple format (its other printers crash); we print json and
 * protobuf as 3.5.20+ does.
 */

import type { CommandSpec } from '../../cli/command.js';
import { memberIdArg } from './args.js';

export const memberPromoteCommand: CommandSpec = {
  use: 'promote <memberID>',
  short: 'Promotes a non-voting member in the cluster',
  long: `Promotes a non-voting learner member to a voting one in the cluster.
`,
  async run(ctx) {
    const id = memberIdArg(ctx.args);
    const display = ctx.display();
    const client = await ctx.client();
    display.memberPromote(id, await client.memberPromote(id));
  },
};
