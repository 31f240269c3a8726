/**
 * @module commands/member/update
 * `etcdctl member update <memberID> --peer-urls=...` (member_command.go).
 */

import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs } from '../../cli/exit-codes.js';
import { checkPeerURLs, memberIdArg } from './args.js';

export const memberUpdateCommand: CommandSpec = {
  use: 'update <memberID> [options]',
  short: 'Updates a member in the cluster',
  flags: [{ name: 'peer-urls', type: 'string', default: '', usage: 'comma separated peer URLs for the updated member.' }],
  async run(ctx) {
    const id = memberIdArg(ctx.args);
    const peerURLs = ctx.flags.string('peer-urls');
    if (peerURLs.length === 0) throw new CliError(ExitBadArgs, 'member peer urls not provided');
    const urls = peerURLs.split(',');
    const display = ctx.display();
    const client = await ctx.client();
    checkPeerURLs(urls);
    display.memberUpdate(id, await client.memberUpdate(id, urls));
  },
};
