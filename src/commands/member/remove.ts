/**
 * @module commands/member/remove
 * `etcdctl member remove <memberID>` (member_command.go).
 */

import type { CommandSpec } from '../../cli/command.js';
import { memberIdArg } from './args.js';

export const memberRemoveCommand: CommandSpec = {
  use: 'remove <memberID>',
  short: 'Removes a member from the cluster',
  async run(ctx) {
    const id = memberIdArg(ctx.args);
    const display = ctx.display();
    const client = await ctx.client();
    display.memberRemove(id, await client.memberRemove(id));
  },
};
