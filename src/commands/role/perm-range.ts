/**
 * @module commands/role/perm-range
 * The key range of `role grant-permission` / `role revoke-permission` from the key
 * arguments and `--prefix` / `--from-key` (role_command.go permRange and
 * rangeEndFromPermFlags). Keys are kept as strings because etcdctl prints them back.
 */

import type { FlagSpec, FlagValues } from '../../cli/flags.js';
import { CliError, ExitBadArgs } from '../../cli/exit-codes.js';
import { bytes, prefixEnd } from '../../client/range.js';

/** `--prefix` and `--from-key` with the given verb ("grant" or "revoke") in their help. */
export function permFlags(verb: string): FlagSpec[] {
  return [
    { name: 'prefix', type: 'bool', default: false, usage: `${verb} a prefix permission` },
    { name: 'from-key', type: 'bool', default: false, usage: `${verb} a permission of keys that are greater than or equal to the given key using byte compare` },
  ];
}

const NUL = Buffer.from([0]);
const EMPTY = Buffer.alloc(0);

/**
 * @param args `<key> [endkey]` (at least one element)
 * @returns key and range end as bytes; end empty = one key, `\x00` = to the end of the
 *   keyspace. An empty key becomes `\x00` (with --prefix/--from-key: the whole keyspace).
 * @throws CliError(ExitBadArgs) for --prefix with --from-key, or an endkey with either
 */
export function permRange(args: string[], flags: FlagValues): { key: Uint8Array; end: Uint8Array } {
  const prefix = flags.bool('prefix');
  const fromKey = flags.bool('from-key');
  const key = bytes(args[0]!);
  if (key.length === 0) {
    if (prefix && fromKey) throw new CliError(ExitBadArgs, '--from-key and --prefix flags are mutually exclusive');
    return { key: NUL, end: prefix || fromKey ? NUL : EMPTY };
  }
  if (args.length === 1) {
    if (prefix) {
      if (fromKey) throw new CliError(ExitBadArgs, '--from-key and --prefix flags are mutually exclusive');
      return { key, end: prefixEnd(key) };
    }
    return { key, end: fromKey ? NUL : EMPTY };
  }
  if (prefix) throw new CliError(ExitBadArgs, 'unexpected endkey argument with --prefix flag');
  if (fromKey) throw new CliError(ExitBadArgs, 'unexpected endkey argument with --from-key flag');
  return { key, end: bytes(args[1]!) };
}
