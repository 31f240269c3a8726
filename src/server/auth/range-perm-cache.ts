/**
 * @module server/auth/range-perm-cache
 * Per-user merged key permissions and the range check (etcd
 * auth/range_perm_cache.go, which uses an interval tree; here each user's
 * intervals are merged into a sorted list of disjoint intervals).
 *
 * Request ranges use the **wire semantics of `range_end`, before any
 * normalization** (GHSA-xg4h-6gfc-h4m8: checking a normalized from-key range
 * as a single key leaked every key after it):
 *
 * | `rangeEnd`              | keys asked for        | interval checked        |
 * |-------------------------|-----------------------|-------------------------|
 * | undefined or empty      | the single key `key`  | `[key, key+"\0")`       |
 * | `"\0"`                  | every key >= `key`    | `[key, +inf)`           |
 * | other, `> key`          | `[key, rangeEnd)`     | `[key, rangeEnd)`       |
 * | other, `<= key` (empty) | nothing               | `[key, key+"\0")` (conservative) |
 *
 * A permission `{key, rangeEnd}` of a role grants the interval by the same
 * table (empty: one key; `"\0"`: open-ended; a prefix `p` is `[p, p+1)`), and
 * a degenerate one (`rangeEnd <= key`) grants nothing. A request is permitted
 * when the union of the user's intervals of that type **covers** the whole
 * requested interval (etcd `IntervalTree.Contains`); adjacent intervals join.
 *
 * Example: roles granting READ on `[a, c)` and on prefix `c` (`[c, d)`) let the
 * user read `[a, d)` and `b`, but not `[a, e)` nor the open-ended range from `a`.
 */

import { Permission_Type, type Permission } from '../../gen/authpb/auth_pb.js';
import { compareBytes } from '../backend/backend.js';

/** A half-open byte interval `[begin, end)`; `end === null` is +infinity. */
export interface KeyInterval {
  readonly begin: Uint8Array;
  readonly end: Uint8Array | null;
}

/** The interval a key plus wire-format `rangeEnd` stands for (table above). */
export function requestInterval(key: Uint8Array, rangeEnd: Uint8Array | undefined): KeyInterval {
  if (rangeEnd && rangeEnd.length === 1 && rangeEnd[0] === 0) return { begin: key, end: null };
  if (rangeEnd && rangeEnd.length > 0 && compareBytes(rangeEnd, key) > 0) return { begin: key, end: rangeEnd };
  return { begin: key, end: pointEnd(key) };
}

/** `key + "\0"`: the smallest key after `key`. */
function pointEnd(key: Uint8Array): Uint8Array {
  const e = new Uint8Array(key.length + 1);
  e.set(key);
  return e;
}

/** `a <= b` for interval ends, with null as +infinity. */
function endLe(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (b === null) return true;
  if (a === null) return false;
  return compareBytes(a, b) <= 0;
}

/** Sorted, disjoint, non-adjacent intervals: the union of the ones given. */
export function mergeIntervals(ivs: KeyInterval[]): KeyInterval[] {
  const sorted = [...ivs].sort((x, y) => compareBytes(x.begin, y.begin));
  const out: { begin: Uint8Array; end: Uint8Array | null }[] = [];
  for (const iv of sorted) {
    const last = out[out.length - 1];
    // join when iv starts at or before last's end (overlapping or adjacent)
    if (last && (last.end === null || compareBytes(iv.begin, last.end) <= 0)) {
      if (!endLe(iv.end, last.end)) last.end = iv.end;
    } else {
      out.push({ begin: iv.begin, end: iv.end });
    }
  }
  return out;
}

/** True if the union `merged` (from {@link mergeIntervals}) covers all of `q`. */
export function covers(merged: readonly KeyInterval[], q: KeyInterval): boolean {
  // binary search for the last interval with begin <= q.begin
  let lo = 0;
  let hi = merged.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareBytes(merged[mid]!.begin, q.begin) <= 0) lo = mid + 1;
    else hi = mid;
  }
  const iv = merged[lo - 1];
  if (!iv) return false;
  if (iv.end !== null && compareBytes(q.begin, iv.end) >= 0) return false;
  return endLe(q.end, iv.end);
}

/** One user's merged READ and WRITE intervals (etcd `unifiedRangePermissions`). */
export class UnifiedRangePermissions {
  readonly read: readonly KeyInterval[];
  readonly write: readonly KeyInterval[];

  /** Merges the permissions of all the user's roles. */
  constructor(perms: Iterable<Permission>) {
    const read: KeyInterval[] = [];
    const write: KeyInterval[] = [];
    for (const p of perms) {
      const iv = permissionInterval(p);
      if (!iv) continue;
      if (p.permType === Permission_Type.READ || p.permType === Permission_Type.READWRITE) read.push(iv);
      if (p.permType === Permission_Type.WRITE || p.permType === Permission_Type.READWRITE) write.push(iv);
    }
    this.read = mergeIntervals(read);
    this.write = mergeIntervals(write);
  }

  /** True if `[key, rangeEnd)` (wire semantics) is fully covered for `type` (READ or WRITE). */
  isPermitted(key: Uint8Array, rangeEnd: Uint8Array | undefined, type: Permission_Type): boolean {
    const q = requestInterval(key, rangeEnd);
    switch (type) {
      case Permission_Type.READ:
        return covers(this.read, q);
      case Permission_Type.WRITE:
        return covers(this.write, q);
      case Permission_Type.READWRITE:
        return covers(this.read, q) && covers(this.write, q);
      default:
        return false;
    }
  }
}

/** The interval a stored permission grants, or undefined for a degenerate one. */
function permissionInterval(p: Permission): KeyInterval | undefined {
  const e = p.rangeEnd;
  if (e.length === 0) return { begin: p.key, end: pointEnd(p.key) };
  if (e.length === 1 && e[0] === 0) return { begin: p.key, end: null };
  if (compareBytes(e, p.key) <= 0) return undefined;
  return { begin: p.key, end: e };
}
