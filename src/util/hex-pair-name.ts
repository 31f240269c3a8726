/**
 * File names made of two numbers as 16 lower-case hex digits each, as etcd
 * names WAL segments (`<seq>-<index>.wal`) and snapshot files
 * (`<term>-<index>.snap`).
 */

/** `<a:016x>-<b:016x>.<ext>`. */
export function hexPairName(a: number, b: number, ext: string): string {
  return `${a.toString(16).padStart(16, '0')}-${b.toString(16).padStart(16, '0')}.${ext}`;
}

/** The two numbers of a {@link hexPairName} with extension `ext`; undefined if `name` is not one or a number exceeds 2^53-1. */
export function parseHexPairName(name: string, ext: string): [number, number] | undefined {
  const m = /^([0-9a-f]{16})-([0-9a-f]{16})\.([a-z]+)$/.exec(name);
  if (!m || m[3] !== ext) return undefined;
  const a = Number.parseInt(m[1]!, 16);
  const b = Number.parseInt(m[2]!, 16);
  if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b)) return undefined;
  return [a, b];
}
