// Shared by the tests that compare hand-written protobuf codecs with protobuf-es
// (test/server/v3rpc/fast-codec.test.ts, test/client/fast-kv.test.ts).

/**
 * A small deterministic generator (tests make no use of Math.random): xorshift32 from
 * `seed`; each call returns an integer in [0, n).
 */
export function rng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

/** int64 values around the varint size boundaries, negatives last (tests index the first 5, 6 or 8). */
export const INT64_SAMPLES: readonly bigint[] = [0n, 1n, 127n, 128n, 300n, 0x7fffffffn, 0x80000000n, 0x694d7a1f2b3c4d5en, -1n, -5n];
/** uint64 values (cluster and member IDs) */
export const UINT64_SAMPLES: readonly bigint[] = [0n, 1n, 300n, 0x80000000n, 0xcdf818194e3a8c32n, 0xffffffffffffffffn];
