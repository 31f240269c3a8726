/**
 * @module commands/del
 * `etcdctl del [options] <key> [range_end]`: the DeleteRange RPC (etcdctl
 * del_command.go). The argument checks and the request are built by
 * `buildDelRequest`, which `txn` reuses for its `del` operations.
 */

import type { MessageInitShape } from '@bufbuild/protobuf';
import type { DeleteRangeRequestSchema } from '../gen/etcdserverpb/rpc_pb.js';
import type { CommandSpec } from '../cli/command.js';
import { CliError, ExitBadArgs } from '../cli/exit-codes.js';
import type { FlagSpec, FlagValues } from '../cli/flags.js';
import { bytes, FROM_KEY_END, prefixEnd } from '../client/range.js';

/**
 * del's own flags: etcdctl 3.4.23's three, plus `--range` from etcdctl 3.5.6+.
 * `--range` only acknowledges that a range delete is intended (3.5.6+ warns and 3.6+
 * waits 2 s without it); 3.4 does neither, so here it changes nothing. It adds one
 * line to `del --help` compared with 3.4.23.
 */
export const DEL_FLAGS: FlagSpec[] = [
  { name: 'prefix', type: 'bool', default: false, usage: 'delete keys with matching prefix' },
  { name: 'prev-kv', type: 'bool', default: false, usage: 'return deleted key-value pairs' },
  { name: 'from-key', type: 'bool', default: false, usage: 'delete keys that are greater than or equal to the given key using byte compare' },
  { name: 'range', type: 'bool', default: false, usage: 'delete range of keys' },
];

/**
 * Validates del's arguments and builds the DeleteRangeRequest, in the order of
 * etcdctl's getDelOp.
 * @param f parsed flags (DEL_FLAGS)
 * @param args positional arguments as bytes: key and optional range end
 * @throws CliError(ExitBadArgs) for 0 or more than 2 arguments, --prefix with
 *   --from-key, or a range end with either of them
 */
export function buildDelRequest(f: FlagValues, args: readonly Uint8Array[]): MessageInitShape<typeof DeleteRangeRequestSchema> {
  if (args.length === 0 || args.length > 2) {
    throw new CliError(ExitBadArgs, 'del command needs one argument as key and an optional argument as range_end');
  }
  const prefix = f.bool('prefix');
  const fromKey = f.bool('from-key');
  if (prefix && fromKey) throw new CliError(ExitBadArgs, '`--prefix` and `--from-key` cannot be set at the same time, choose one');
  let key = args[0]!;
  let rangeEnd: Uint8Array | undefined;
  if (args.length > 1) {
    if (prefix || fromKey) throw new CliError(ExitBadArgs, 'too many arguments, only accept one argument when `--prefix` or `--from-key` is set');
    rangeEnd = args[1]!;
  }
  if (prefix) {
    // clientv3: an empty prefix means every key, i.e. ["\x00", "\x00")
    if (key.length === 0) { key = FROM_KEY_END; rangeEnd = FROM_KEY_END; }
    else rangeEnd = prefixEnd(key);
  }
  if (fromKey) {
    if (key.length === 0) key = FROM_KEY_END;
    rangeEnd = FROM_KEY_END;
  }
  return { key, rangeEnd, prevKv: f.bool('prev-kv') };
}

export const delCommand: CommandSpec = {
  use: 'del [options] <key> [range_end]',
  short: 'Removes the specified key or range of keys [key, range_end)',
  flags: DEL_FLAGS,
  async run(ctx) {
    const req = buildDelRequest(ctx.flags, ctx.args.map(bytes));
    const display = ctx.display();
    const client = await ctx.client();
    const resp = await client.deleteRange(req);
    display.del(resp);
  },
};
