/**
 * @module commands/compaction
 * `etcdctl compaction [options] <revision>`: the Compact RPC (etcdctl
 * compaction_command.go). Prints `compacted revision <n>` whatever the output format.
 */

import type { CommandSpec } from '../cli/command.js';
import { CliError, ExitBadArgs, ExitError } from '../cli/exit-codes.js';
import { GoParseError, parseGoInt } from '../cli/go-format.js';

export const compactionCommand: CommandSpec = {
  use: 'compaction [options] <revision>',
  short: 'Compacts the event history in etcd',
  flags: [
    { name: 'physical', type: 'bool', default: false, usage: "'true' to wait for compaction to physically remove all old revisions" },
  ],
  async run(ctx) {
    if (ctx.args.length !== 1) throw new CliError(ExitBadArgs, 'compaction command needs 1 argument');
    let rev: bigint;
    try {
      rev = parseGoInt(ctx.args[0]!, 10);
    } catch (e) {
      // etcdctl reports the bare strconv error, with the generic exit code 1
      if (e instanceof GoParseError) throw new CliError(ExitError, e.message);
      throw e;
    }
    const client = await ctx.client();
    await client.compact({ revision: rev, physical: ctx.flags.bool('physical') });
    ctx.out.write(`compacted revision ${rev}\n`);
  },
};
