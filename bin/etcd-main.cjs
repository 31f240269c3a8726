// Runs the etcd server's main (dist/src/server/etcdmain/main.js, compiled by
// `npm run build`) for bin/etcd and `bin/etcdctl serve`, and ends the process as etcd
// does: with main's exit code, or by re-raising SIGINT/SIGTERM after a graceful close.
'use strict';
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const file = path.join(__dirname, '..', 'dist', 'src', 'server', 'etcdmain', 'main.js');

/** Runs etcd with `args` (the etcd flags) and the process environment; ends the process. */
function runEtcd(args) {
  import(pathToFileURL(file).href)
    .then(
      (m) => m.main(args, process.env),
      (e) => {
        if (e && e.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes(file)) {
          process.stderr.write('Error: etcd is not built: run `npm run build` (or `npm ci`) first\n');
        } else {
          process.stderr.write(`Error: cannot load etcd: ${e && e.stack ? e.stack : e}\n`);
        }
        return 1;
      },
    )
    .then((r) => {
      if (typeof r === 'string') {
        process.removeAllListeners(r);
        process.kill(process.pid, r);
        return;
      }
      process.exitCode = r;
      // handles left by a closed member (timers, sockets) must not keep the process alive
      setImmediate(() => process.exit(r));
    });
}

module.exports = { runEtcd };
