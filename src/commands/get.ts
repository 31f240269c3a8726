/**
 * @module commands/get
 * `etcdctl get [options] <key> [range_end]`: the Range RPC (etcdctl get_command.go).
 * The argument checks and the request are built by `buildGetRequest`, which `txn`
 * reuses for its `get` operations (as etcdctl's txn reuses getGetOp).
 */

import type { MessageInitShape } from '@bufbuild/protobuf';
import { RangeRequest_SortOrder, RangeRequest_SortTarget, type RangeRequestSchema } from '../gen/etcdserverpb/rpc_pb.js';
import type { CommandSpec } from '../cli/command.js';
import { CliError, ExitBadArgs, ExitBadFeature } from '../cli/exit-codes.js';
import type { FlagSpec, FlagValues } from '../cli/flags.js';
import { goQuote } from '../cli/go-format.js';
import { bytes, FROM_KEY_END, prefixEnd } from '../client/range.js';

/** get's own flags, with etcdctl 3.4.23's names, defaults and help texts. */
export const GET_FLAGS: FlagSpec[] = [
  { name: 'consistency', type: 'string', default: 'l', usage: 'Linearizable(l) or Serializable(s)' },
  { name: 'order', type: 'string', default: '', usage: 'Order of results; ASCEND or DESCEND (ASCEND by default)' },
  { name: 'sort-by', type: 'string', default: '', usage: 'Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION' },
  { name: 'limit', type: 'int', default: 0n, usage: 'Maximum number of results' },
  { name: 'prefix', type: 'bool', default: false, usage: 'Get keys with matching prefix' },
  { name: 'from-key', type: 'bool', default: false, usage: 'Get keys that are greater than or equal to the given key using byte compare' },
  { name: 'rev', type: 'int', default: 0n, usage: 'Specify the kv revision' },
  { name: 'keys-only', type: 'bool', default: false, usage: 'Get only the keys' },
  { name: 'print-value-only', type: 'bool', default: false, usage: 'Only write values when using the "simple" output format' },
];

/**
 * Validates get's arguments and builds the RangeRequest, in the order of etcdctl's
 * getGetOp (so the first failing check gives etcdctl's message). Arguments beyond
 * the second are ignored, as in etcdctl.
 * @param f parsed flags (GET_FLAGS)
 * @param args positional arguments as bytes: key and optional range end
 * @throws CliError(ExitBadArgs) for missing key / conflicting options,
 *   CliError(ExitBadFeature) for a bad --consistency, --order or --sort-by
 */
export function buildGetRequest(f: FlagValues, args: readonly Uint8Array[]): MessageInitShape<typeof RangeRequestSchema> {
  if (args.length === 0) throw new CliError(ExitBadArgs, 'get command needs one argument as key and an optional argument as range_end');
  const prefix = f.bool('prefix');
  const fromKey = f.bool('from-key');
  if (prefix && fromKey) throw new CliError(ExitBadArgs, '`--prefix` and `--from-key` cannot be set at the same time, choose one');
  const consistency = f.string('consistency');
  if (consistency !== 's' && consistency !== 'l') throw new CliError(ExitBadFeature, `unknown consistency flag ${goQuote(consistency)}`);

  let key = args[0]!;
  let rangeEnd: Uint8Array | undefined;
  if (args.length > 1) {
    if (prefix || fromKey) throw new CliError(ExitBadArgs, 'too many arguments, only accept one argument when `--prefix` or `--from-key` is set');
    rangeEnd = args[1]!;
  }

  const order = f.string('order');
  let sortOrder = RangeRequest_SortOrder.NONE;
  switch (order.toUpperCase()) {
    case 'ASCEND': sortOrder = RangeRequest_SortOrder.ASCEND; break;
    case 'DESCEND': sortOrder = RangeRequest_SortOrder.DESCEND; break;
    case '': break;
    default: throw new CliError(ExitBadFeature, `bad sort order ${order}`);
  }
  const target = f.string('sort-by');
  let sortTarget = RangeRequest_SortTarget.KEY;
  switch (target.toUpperCase()) {
    case 'CREATE': sortTarget = RangeRequest_SortTarget.CREATE; break;
    case 'KEY': sortTarget = RangeRequest_SortTarget.KEY; break;
    case 'MODIFY': sortTarget = RangeRequest_SortTarget.MOD; break;
    case 'VALUE': sortTarget = RangeRequest_SortTarget.VALUE; break;
    case 'VERSION': sortTarget = RangeRequest_SortTarget.VERSION; break;
    case '': break;
    default: throw new CliError(ExitBadFeature, `bad sort target ${target}`);
  }
  // clientv3.WithSort: key order ascending is the server's default, so it is sent as NONE.
  if (sortTarget === RangeRequest_SortTarget.KEY && sortOrder === RangeRequest_SortOrder.ASCEND) sortOrder = RangeRequest_SortOrder.NONE;

  if (prefix) {
    if (key.length === 0) { key = FROM_KEY_END; rangeEnd = FROM_KEY_END; }
    else rangeEnd = prefixEnd(key);
  }
  if (fromKey) {
    if (key.length === 0) key = FROM_KEY_END;
    rangeEnd = FROM_KEY_END;
  }
  const rev = f.int('rev');
  return {
    key,
    rangeEnd,
    limit: f.int('limit'),
    revision: rev > 0n ? rev : 0n,
    sortOrder,
    sortTarget,
    serializable: consistency === 's',
    keysOnly: f.bool('keys-only'),
  };
}

export const getCommand: CommandSpec = {
  use: 'get [options] <key> [range_end]',
  short: 'Gets the key or a range of keys',
  flags: GET_FLAGS,
  async run(ctx) {
    const req = buildGetRequest(ctx.flags, ctx.args.map(bytes));
    const valueOnly = ctx.flags.bool('print-value-only');
    const display = ctx.display({ valueOnly });
    const client = await ctx.client();
    const resp = await client.range(req);
    if (valueOnly && ctx.globals().writeOut !== 'simple') {
      throw new CliError(ExitBadArgs, 'print-value-only is only for `--write-out=simple`');
    }
    display.get(resp);
  },
};
