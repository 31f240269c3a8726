// `npm start`: the project's main job on the embedded default.
// The bundled server (`etcdctl serve`) is not built yet, so for now this prints how to
// use the client against an etcd you run, then the client's own help.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
console.log(`etcdctl-ts: an etcdctl-compatible client (the bundled server is not built yet).

Use it against any etcd v3 endpoint, for example:
  ./bin/etcdctl --endpoints=127.0.0.1:2379 put foo bar
  ./bin/etcdctl --endpoints=127.0.0.1:2379 get foo --prefix -w json

etcdctl --help follows.
`);
const r = spawnSync(process.execPath, [join(root, 'bin/etcdctl'), '--help'], { stdio: 'inherit' });
process.exit(r.status ?? 1);
