/**
 * @module commands/put
 * `etcdctl put [options] <key> <value>`: the Put RPC (etcdctl put_command.go). Without
 * a value argument (and without --ignore-value) the whole of stdin is the value.
 */

import type { CommandSpec } from '../cli/command.js';
import { CliError, ExitBadArgs } from '../cli/exit-codes.js';
import { GoParseError, parseGoInt } from '../cli/go-format.js';
import { bytes } from '../client/range.js';

const NEEDS_ARGS = 'put command needs 1 argument and input from stdin or 2 arguments';

export const putCommand: CommandSpec = {
  use: 'put [options] <key> <value> (<value> can also be given from stdin)',
  short: 'Puts the given key into the store',
  long: `
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
`,
  flags: [
    { name: 'lease', type: 'string', default: '0', usage: 'lease ID (in hexadecimal) to attach to the key' },
    { name: 'prev-kv', type: 'bool', default: false, usage: 'return the previous key-value pair before modification' },
    { name: 'ignore-value', type: 'bool', default: false, usage: 'updates the key using its current value' },
    { name: 'ignore-lease', type: 'bool', default: false, usage: 'updates the key using its current lease' },
  ],
  async run(ctx) {
    const f = ctx.flags;
    const args = ctx.args;
    if (args.length === 0) throw new CliError(ExitBadArgs, NEEDS_ARGS);
    const key = bytes(args[0]!);
    const ignoreValue = f.bool('ignore-value');
    if (ignoreValue && args.length > 1) throw new CliError(ExitBadArgs, "put command needs only 1 argument when 'ignore-value' is set");
    let value: Uint8Array = new Uint8Array();
    if (!ignoreValue) {
      if (args.length > 1) value = bytes(args[1]!);
      else {
        value = await ctx.readStdin();
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
    const display = ctx.display();
    const client = await ctx.client();
    const resp = await client.put({
      key,
      value,
      lease,
      prevKv: f.bool('prev-kv'),
      ignoreValue,
      ignoreLease: f.bool('ignore-lease'),
    });
    display.put(resp);
  },
};
