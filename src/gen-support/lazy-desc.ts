/**
 * @module gen-support/lazy-desc
 * Descriptors built on first use, for the CLI bundle. Every generated `*_pb.ts` module
 * builds its whole file registry when it is loaded (about 6 ms and a scavenge's worth of
 * objects for rpc.proto, kv.proto and auth.proto), while `get`, `put` and `endpoint
 * health` encode and decode their messages by hand (client/fast-kv) and most other
 * commands touch a handful of messages. The CLI bundle (scripts/build.mjs) wraps each
 * generated `fileDesc(...)`, `messageDesc(...)`, `enumDesc(...)` and `serviceDesc(...)`
 * in `lazyDesc(() => ...)`: the exported value is a proxy that builds the real descriptor
 * the first time anything looks at it, and forwards every operation to it from then on.
 *
 * Identity: a proxy is not the object it stands for (`KV.method.range.input` is the real
 * RangeRequest descriptor, `RangeRequestSchema` its proxy). protobuf-es compares messages
 * and descriptors by type name (`isMessage`, `reflect`, registries), never by identity,
 * and `fileDescJson` unwraps the files it imports (`unwrapLazy`).
 */

/** A proxy's state: how to build its descriptor, and the descriptor once built. */
interface LazyState {
  build: () => object;
  real?: object;
  failure?: { error: unknown };
}

/** proxy → its state */
const states = new WeakMap<object, LazyState>();

/** Builds (once) and returns the real descriptor; a failed build throws again at every use. */
function realOf(s: LazyState): object {
  if (s.real === undefined) {
    if (s.failure) throw s.failure.error;
    try {
      s.real = s.build();
    } catch (e) {
      s.failure = { error: e };
      throw e;
    }
  }
  return s.real;
}

/**
 * A stand-in for the descriptor `build()` returns, built on its first use.
 * @param build makes the descriptor (called at most once; its exception, if any, is
 *   thrown to every use)
 */
export function lazyDesc<T extends object>(build: () => T): T {
  const s: LazyState = { build };
  // the proxy's own target stays empty: every trap answers from the real descriptor
  const proxy = new Proxy({} as T, {
    get: (_t, p) => Reflect.get(realOf(s), p),
    has: (_t, p) => Reflect.has(realOf(s), p),
    ownKeys: () => Reflect.ownKeys(realOf(s)),
    getOwnPropertyDescriptor: (_t, p) => {
      const d = Reflect.getOwnPropertyDescriptor(realOf(s), p);
      // a proxy may not report a property its (empty, extensible) target lacks as
      // non-configurable; descriptors are plain objects, so this changes no value
      if (d) d.configurable = true;
      return d;
    },
    getPrototypeOf: () => Reflect.getPrototypeOf(realOf(s)),
    set: (_t, p, v) => Reflect.set(realOf(s), p, v),
    defineProperty: (_t, p, d) => Reflect.defineProperty(realOf(s), p, d),
    deleteProperty: (_t, p) => Reflect.deleteProperty(realOf(s), p),
  });
  states.set(proxy, s);
  return proxy;
}

/** The real descriptor behind a `lazyDesc` proxy (built now if it was not yet); any other value as it is. */
export function unwrapLazy<T>(v: T): T {
  const s = typeof v === 'object' && v !== null ? states.get(v) : undefined;
  return s ? (realOf(s) as T) : v;
}

/** Whether `v` is a `lazyDesc` proxy whose descriptor has not been built yet (for tests). */
export function isUnbuiltLazy(v: unknown): boolean {
  const s = typeof v === 'object' && v !== null ? states.get(v) : undefined;
  return s !== undefined && s.real === undefined;
}
