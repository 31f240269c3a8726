/**
 * @module commands/put
 * `etcdctl put [options] <key> <value>`: the Put RPC (etcdctl put_command.go). Without
 * a value argument (and without --ignore-value) the whole of stdin is the value.
 * The argument checks and the request are built by `buildPutRequest`, which `txn`
 * reuses for its `put` operations (as etcdctl's txn reuses getPutOp).
 */

import type { MessageInitShape } from '@bufbuild/protobuf';
import type { PutRequestSchema } from '../gen/etcdserverpb/rpc_pb.js';
import type { CommandSpec } from '../cli/command.js';
import { CliError, ExitBadArgs } from '../cli/exit-codes.js';
import type { FlagSpec, FlagValues } from '../cli/flags.js';
import { GoParseError, parseGoInt } from '../cli/go-format.js';
import { bytes } from '../client/range.js';

const NEEDS_ARGS = 'put command needs 1 argument and input from stdin or 2 arguments';

/** put's own flags, with etcdctl 3.4.23's names, defaults and help texts. */
export const PUT_FLAGS: FlagSpec[] = [
  { name: 'lease', type: 'string', default: '0', usage: 'lease ID (in hexadecimal) to attach to the key' },
  { name: 'prev-kv', type: 'bool', default: false, usage: 'return the previous key-value pair before modification' },
  { name: 'ignore-value', type: 'bool', default: false, usage: 'updates the key using its current value' },
  { name: 'ignore-lease', type: 'bool', default: false, usage: 'updates the key using its current lease' },
];

/** put's long help (cobra `Long`), verbatim from etcdctl 3.4.23. */
export const PUT_LONG = `
Puts the given key into the store.

When <value> begins with '-', <value> is interpreted as a flag.
Insert '--' for workaround:

$ put <key> -- <value>
$ put -- <key> <value>

If <value> isn't given as a command line argument and '--ignore-value' is not specified,
this command tries to read the value from standard input.

If <lease> isn't given as a command line argument and '--ignore-lease' is not specified,
this command tries to read the value from standard input.

For example,
$ cat file | put <key>
will store the content of the file to <key>.
`;

/**
 * Validates put's arguments and builds the PutRequest, in the order of etcdctl's
 * getPutOp. Arguments beyond the second are ignored, as in etcdctl.
 * @param f parsed flags (PUT_FLAGS)
 * @param args positional arguments as bytes: key and optional value
 * @param readStdin called only when the value must come from stdin; an empty
 *   result is an error, as in etcdctl's argOrStdin
 * @throws CliError(ExitBadArgs) with etcdctl's messages (missing arguments, value
 *   with --ignore-value, lease ID not hexadecimal)
 */
export async function buildPutRequest(
  f: FlagValues,
  args: readonly Uint8Array[],
  readStdin: () => Promise<Uint8Array>,
): Promise<MessageInitShape<typeof PutRequestSchema>> {
  if (args.length === 0) throw new CliError(ExitBadArgs, NEEDS_ARGS);
  const key = args[0]!;
  const ignoreValue = f.bool('ignore-value');
  if (ignoreValue && args.length > 1) throw new CliError(ExitBadArgs, "put command needs only 1 argument when 'ignore-value' is set");
  let value: Uint8Array = new Uint8Array();
  if (!ignoreValue) {
    if (args.length > 1) value = args[1]!;
    else {
      value = await readStdin();
      if (value.length === 0) throw new CliError(ExitBadArgs, NEEDS_ARGS);
    }
  }
  let lease: bigint;
  try {
    lease = parseGoInt(f.string('lease'), 16);
  } catch (e) {
    if (e instanceof GoParseError) throw new CliError(ExitBadArgs, `bad lease ID (${e.message}), expecting ID in Hex`);
    throw e;
  }
  return {
    key,
    value,
    lease,
    prevKv: f.bool('prev-kv'),
    ignoreValue,
    ignoreLease: f.bool('ignore-lease'),
  };
}

export const putCommand: CommandSpec = {
  use: 'put [options] <key> <value> (<value> can also be given from stdin)',
  short: 'Puts the given key into the store',
  long: PUT_LONG,
  flags: PUT_FLAGS,
  async run(ctx) {
    const req = await buildPutRequest(ctx.flags, ctx.args.map(bytes), () => ctx.readStdin());
    const display = ctx.display();
    const client = await ctx.client();
    const resp = await client.put(req);
    display.put(resp);
  },
};
