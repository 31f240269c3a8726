/**
 * @module client/range
 * Key-range helpers with clientv3's semantics (clientv3/op.go): a prefix becomes the
 * range [prefix, prefixEnd); `\x00` as range end means "to the end of the keyspace".
 */

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

/** UTF-8 bytes of a command-line string. */
export function bytes(s: string): Uint8Array {
  return Buffer.from(s, 'utf8');
}
