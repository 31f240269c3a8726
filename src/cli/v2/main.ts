/**
 * @module cli/v2/main
 * etcdctl's v2 mode (ETCDCTL_API=2; etcdctl/ctlv2/ctl.go): the urfave/cli app with the
 * v2 global flags and commands. It is built as its own bundle (dist/etcdctl-v2.cjs) and
 * loaded only when ETCDCTL_API=2, so the v3 CLI does not pay for it at start-up.
 */

import { runApp, V2Exit, type V2App } from './app.js';
import { VERSION as ETCDCTL_VERSION } from '../version.js';
import { setEnv, out, err } from '../../commands/v2/common.js';
import {
  execWatchCommand, getCommand, lsCommand, mkCommand, mkdirCommand, rmCommand, rmdirCommand,
  setCommand, setdirCommand, updateCommand, updatedirCommand, watchCommand,
} from '../../commands/v2/keys.js';
import { backupCommand } from '../../commands/v2/backup.js';
import { clusterHealthCommand, memberCommand } from '../../commands/v2/cluster.js';
import { authCommand, roleCommand, userCommand } from '../../commands/v2/auth.js';

const APP: V2App = {
  name: 'etcdctl',
  usage: 'A simple command line client for etcd.',
  version: ETCDCTL_VERSION,
  flags: [
    { name: 'debug', kind: 'bool', usage: 'output cURL commands which can be used to reproduce the request' },
    { name: 'no-sync', kind: 'bool', usage: "don't synchronize cluster information before sending request" },
    { name: 'output, o', kind: 'string', value: 'simple', usage: 'output response in the given format (`simple`, `extended` or `json`)' },
    { name: 'discovery-srv, D', kind: 'string', usage: 'domain name to query for SRV records describing cluster endpoints' },
    { name: 'insecure-discovery', kind: 'bool', usage: 'accept insecure SRV records describing cluster endpoints' },
    { name: 'peers, C', kind: 'string', usage: 'DEPRECATED - "--endpoints" should be used instead' },
    { name: 'endpoint', kind: 'string', usage: 'DEPRECATED - "--endpoints" should be used instead' },
    { name: 'endpoints', kind: 'string', usage: 'a comma-delimited list of machine addresses in the cluster (default: "http://127.0.0.1:2379,http://127.0.0.1:4001")' },
    { name: 'cert-file', kind: 'string', usage: 'identify HTTPS client using this SSL certificate file' },
    { name: 'key-file', kind: 'string', usage: 'identify HTTPS client using this SSL key file' },
    { name: 'ca-file', kind: 'string', usage: 'verify certificates of HTTPS-enabled servers using this CA bundle' },
    { name: 'username, u', kind: 'string', usage: 'provide username[:password] and prompt if password is not supplied.' },
    { name: 'timeout', kind: 'duration', value: 2e9, usage: 'connection timeout per request' },
    { name: 'total-timeout', kind: 'duration', value: 5e9, usage: 'timeout for the command execution (except watch)' },
  ],
  commands: [
    backupCommand, clusterHealthCommand, mkCommand, mkdirCommand, rmCommand, rmdirCommand, getCommand, lsCommand,
    setCommand, setdirCommand, updateCommand, updatedirCommand, watchCommand, execWatchCommand, memberCommand,
    userCommand, roleCommand, authCommand,
  ],
  printVersion(io) {
    io.out(`etcdctl version: ${ETCDCTL_VERSION}\nAPI version: 2\n`);
  },
};

/**
 * Runs etcdctl's v2 mode.
 * @param argv arguments after the program name
 * @param env environment without ETCDCTL_API
 * @returns the exit code
 */
export async function mainV2(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  setEnv(env);
  try {
    return await runApp(APP, argv, { out, err });
  } catch (e) {
    if (e instanceof V2Exit) return e.code;
    throw e;
  }
}
