/**
 * @module util/ids
 * 64-bit ID generation as etcd's `pkg/idutil` (request IDs, and lease IDs when
 * the client asks for ID 0).
 *
 * Layout of a generated ID (high bit first):
 *
 * ```
 * | 16 bits: low bits of the member ID | 40 bits: ms timestamp at start | 8 bits: counter |
 * ```
 *
 * The low 48 bits (timestamp and counter) are one counter: the generator starts
 * at `timestamp << 8` and adds 1 per ID (carrying into the timestamp bits), so
 * IDs from one member never repeat while fewer than 256 IDs per millisecond
 * are generated on average since start, and members with different low 16 bits
 * never collide. Example: member 0x8e9e05c52164694d (prefix 0x694d) starting at
 * ms 0x0190_0000_0000 (low 40 bits: 0x90_0000_0000, shifted left by 8) yields
 * 0x694d_9000_0000_0001, then 0x694d_9000_0000_0002, ...
 *
 * IDs are `bigint` (they are uint64 and exceed 2^53).
 */

import type { Clock } from './clock.js';

const TS_BITS = 40n;
const CNT_BITS = 8n;
const SUFFIX_BITS = TS_BITS + CNT_BITS;
const SUFFIX_MASK = (1n << SUFFIX_BITS) - 1n;
const TS_MASK = (1n << TS_BITS) - 1n;

/** Generates unique uint64 IDs with a member-ID prefix (etcd `idutil.Generator`). */
export class IdGenerator {
  /** The high 16 bits, from the member ID. */
  private readonly prefix: bigint;
  /** The low 48 bits: timestamp (40) and counter (8). */
  private suffix: bigint;

  /**
   * @param memberId the member's ID; only its low 16 bits are used (etcd: `uint16(id)`).
   * @param nowMs the current time in ms (pass `clock.nowMs()`); only its low 40 bits are used.
   */
  constructor(memberId: bigint, nowMs: number) {
    this.prefix = BigInt.asUintN(16, memberId) << SUFFIX_BITS;
    this.suffix = (BigInt(Math.floor(nowMs)) & TS_MASK) << CNT_BITS;
  }

  /** Creates a generator for `memberId` starting at `clock`'s current time. */
  static fromClock(memberId: bigint, clock: Clock): IdGenerator {
    return new IdGenerator(memberId, clock.nowMs());
  }

  /** The next ID (uint64). */
  next(): bigint {
    this.suffix = (this.suffix + 1n) & SUFFIX_MASK;
    return this.prefix | this.suffix;
  }
}

/**
 * Turns a generated ID into a lease ID: etcd clears the top bit so the ID is a
 * positive int64 (`int64(reqIDGen.Next() & ((1 << 63) - 1))`, v3_server.go).
 */
export function toLeaseId(id: bigint): bigint {
  return id & ((1n << 63n) - 1n);
}
