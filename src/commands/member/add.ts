/**
 * @module commands/member/add
 * `etcdctl member add <memberName> --peer-urls=... [--learner]` (member_command.go).
 * In the simple format the command also prints the ETCD_* settings the new member
 * should start with.
 */

import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitBadArgs } from '../../cli/exit-codes.js';
import { goQuote } from '../../cli/go-format.js';
import { checkPeerURLs } from './args.js';

export const memberAddCommand: CommandSpec = {
  use: 'add <memberName> [options]',
  short: 'Adds a member into the cluster',
  flags: [
    { name: 'peer-urls', type: 'string', default: '', usage: 'comma separated peer URLs for the new member.' },
    { name: 'learner', type: 'bool', default: false, usage: 'indicates if the new member is raft learner' },
  ],
  async run(ctx) {
    const args = ctx.args;
    if (args.length < 1) throw new CliError(ExitBadArgs, 'member name not provided');
    if (args.length > 1) {
      let ev = 'too many arguments';
      for (const s of args) if (s.toLowerCase().startsWith('http')) ev += `, did you mean --peer-urls=${s}`;
      throw new CliError(ExitBadArgs, ev);
    }
    const name = args[0]!;
    const peerURLs = ctx.flags.string('peer-urls');
    if (peerURLs.length === 0) throw new CliError(ExitBadArgs, 'member peer urls not provided');
    const urls = peerURLs.split(',');
    const display = ctx.display();
    const client = await ctx.client();
    checkPeerURLs(urls);
    const resp = await client.memberAdd({ peerURLs: urls, isLearner: ctx.flags.bool('learner') });
    const newID = resp.member?.ID ?? 0n;
    display.memberAdd(resp);
    if (ctx.globals().writeOut === 'simple') {
      const conf: string[] = [];
      for (const m of resp.members) for (const u of m.peerURLs) conf.push(`${m.ID === newID ? name : m.name}=${u}`);
      ctx.out.write(
        '\n' +
          `ETCD_NAME=${goQuote(name)}\n` +
          `ETCD_INITIAL_CLUSTER=${goQuote(conf.join(','))}\n` +
          `ETCD_INITIAL_ADVERTISE_PEER_URLS=${goQuote(peerURLs)}\n` +
          'ETCD_INITIAL_CLUSTER_STATE="existing"\n',
      );
    }
  },
};
