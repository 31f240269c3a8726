/**
 * @module util/crc32c
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum Go's
 * `crc32.MakeTable(crc32.Castagnoli)` computes: etcd uses it for the hash that
 * `etcdctl snapshot status` prints (clientv3/snapshot/v3_snapshot.go) and for WAL
 * records. Table-driven, eight bytes per step ("slicing by 8"), in plain JavaScript
 * so that the CLI needs no native addon.
 */

const POLY = 0x82f63b78;

/** TABLES[k][b]: the CRC of byte b followed by k zero bytes. */
const TABLES: Uint32Array[] = (() => {
  const t: Uint32Array[] = [];
  const t0 = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t0[i] = c >>> 0;
  }
  t.push(t0);
  for (let k = 1; k < 8; k++) {
    const prev = t[k - 1]!;
    const cur = new Uint32Array(256);
    for (let i = 0; i < 256; i++) cur[i] = (prev[i]! >>> 8) ^ t0[prev[i]! & 0xff]!;
    t.push(cur);
  }
  return t;
})();

/**
 * A running CRC-32C, like Go's `crc32.New(castagnoliTable)`: `update` any number of
 * times, then `sum()` (an unsigned 32-bit number).
 */
export class Crc32c {
  private crc: number;

  /**
   * @param initial a checksum to continue from (Go's `crc32.Update(initial, ...)`, as
   * etcd's pkg/crc `New(prev, table)`); 0 starts a new one
   */
  constructor(initial = 0) {
    this.crc = (initial ^ 0xffffffff) >>> 0;
  }

  /** Adds `data[start, end)` (the whole of `data` by default) to the checksum. */
  update(data: Uint8Array, start = 0, end = data.length): this {
    const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];
    let c = this.crc;
    let i = start;
    const n = end;
    for (; i + 8 <= n; i += 8) {
      const a = (c ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0;
      c =
        t7[a & 0xff]! ^ t6[(a >>> 8) & 0xff]! ^ t5[(a >>> 16) & 0xff]! ^ t4[a >>> 24]! ^
        t3[data[i + 4]!]! ^ t2[data[i + 5]!]! ^ t1[data[i + 6]!]! ^ t0[data[i + 7]!]!;
    }
    for (; i < n; i++) c = t0[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
    this.crc = c >>> 0;
    return this;
  }

  /** The checksum of everything added so far. */
  sum(): number {
    return (this.crc ^ 0xffffffff) >>> 0;
  }
}

/** CRC-32C of `data[start, end)` (of all of `data` by default). */
export function crc32c(data: Uint8Array, start = 0, end = data.length): number {
  return new Crc32c().update(data, start, end).sum();
}
