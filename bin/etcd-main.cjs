// Runs the etcd server's main (src/server/etcdmain/main.ts, bundled by `npm run build`
// into dist/etcd.cjs and loaded with its V8 code cache, load-bundle.cjs) for bin/etcd
// and `bin/etcdctl serve`, and ends the process as etcd does: with main's exit code, or
// by re-raising SIGINT/SIGTERM after a graceful close.
'use strict';
const path = require('node:path');
const { loadBundle, flushCodeCache } = require('./load-bundle.cjs');

/** Runs etcd with `args` (the etcd flags) and the process environment; ends the process. */
function runEtcd(args) {
  let m;
  try {
    m = loadBundle(path.join(__dirname, '..', 'dist', 'etcd.cjs'));
  } catch (e) {
    process.stderr.write(`Error: cannot load etcd: ${e && e.stack ? e.stack : e}\n`);
    process.exit(1);
  }
  if (!m) {
    process.stderr.write('Error: etcd is not built: run `npm run build` (or `npm ci`) first\n');
    process.exit(1);
  }
  Promise.resolve()
    .then(() => m.main(args, process.env))
    .then(
      (r) => {
        if (typeof r === 'string') {
          process.removeAllListeners(r);
          flushCodeCache();
          process.kill(process.pid, r);
          return;
        }
        process.exitCode = r;
        // handles left by a closed member (timers, sockets) must not keep the process alive
        setImmediate(() => process.exit(r));
      },
      (e) => {
        process.stderr.write(`Error: ${e && e.stack ? e.stack : e}\n`);
        process.exit(1);
      },
    );
}

module.exports = { runEtcd };
