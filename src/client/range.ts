/**
 * @module client/range
 * Key-range helpers with clientv3's semantics (clientv3/op.go): a prefix becomes the
 * range [prefix, prefixEnd); `\x00` as range end means "to the end of the keyspace".
 */
import { argBytes } from '../util/arg-bytes.js';

/** `\x00`: as a range end, every key >= the start key. */
export const FROM_KEY_END = new Uint8Array([0]);

/**
 * The smallest key greater than every key starting with `prefix` (clientv3 getPrefix):
 * increment the last byte below 0xff and drop what follows; all-0xff → `\x00`.
 */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i]! < 0xff) {
      // a copy: on a Buffer, slice() would be a view and the increment would change the key
      const end = Uint8Array.from(prefix.subarray(0, i + 1));
      end[i]! += 1;
      return end;
    }
  }
  return FROM_KEY_END;
}

/**
 * The bytes of a command-line string: UTF-8, except that bytes which were not valid
 * UTF-8 on the command line (kept as U+DC80..U+DCFF, see util/arg-bytes.ts) are those
 * bytes again.
 */
export function bytes(s: string): Uint8Array {
  return argBytes(s);
}
