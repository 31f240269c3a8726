// Loads one of the bundles `npm run build` writes (dist/etcdctl.cjs, dist/etcd.cjs) with
// the V8 code cache written next to it (<bundle>.cache), which removes most of the
// compile time from every start. A cache made from another build is never used: the
// cache file starts with the bundle's first line (`// build <uuid>`) and a newline (V8
// itself only checks the source length). With ETCDTS_WRITE_CODE_CACHE set, the cache is
// (re)written when the process exits, holding every function compiled until then.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

/**
 * Runs the CommonJS bundle `file` and returns its exports.
 * Returns undefined when the bundle cannot be read (not built).
 */
function loadBundle(file) {
  const cacheFile = file + '.cache';
  let source;
  try {
    source = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const buildId = source.slice(0, source.indexOf('\n') + 1);
  let cachedData;
  try {
    const c = fs.readFileSync(cacheFile);
    if (buildId.length > 1 && c.subarray(0, buildId.length).toString('latin1') === buildId) cachedData = c.subarray(buildId.length);
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
  if (process.env.ETCDTS_CACHE_DEBUG) process.stderr.write(`cache: ${cachedData ? (script.cachedDataRejected ? 'rejected' : 'used') : 'none'}\n`);
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(file), mod, file, path.dirname(file));
  if (process.env.ETCDTS_WRITE_CODE_CACHE) {
    pending.push(() => {
      const tmp = `${cacheFile}.${process.pid}`;
      fs.writeFileSync(tmp, Buffer.concat([Buffer.from(buildId, 'latin1'), script.createCachedData()]));
      fs.renameSync(tmp, cacheFile);
    });
    process.on('exit', flushCodeCache);
  }
  return mod.exports;
}

/** Cache writers of the bundles loaded with ETCDTS_WRITE_CODE_CACHE set, not yet run. */
const pending = [];

/**
 * Writes the code caches now (with ETCDTS_WRITE_CODE_CACHE; else nothing): for a process
 * about to end by re-raising a signal, where no 'exit' event comes.
 */
function flushCodeCache() {
  while (pending.length > 0) pending.shift()();
}

module.exports = { loadBundle, flushCodeCache };
