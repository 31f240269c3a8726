/**
 * @module commands/v2/cluster
 * etcdctl v2's `member` (list/add/remove/update) and `cluster-health` commands
 * (etcdctl/ctlv2/command/member_commands.go, cluster_health.go).
 */

import http from 'node:http';
import https from 'node:https';
import type { V2Command, V2Context } from '../../cli/v2/app.js';
import { V2Exit } from '../../cli/v2/app.js';
import { goQuote } from '../../cli/go-format.js';
import { goNetError, type V2Client } from '../../client/v2/http.js';
import { MembersAPI, type V2Member } from '../../client/v2/api.js';
import { err, ExitClusterNotHealthy, ExitServerError, fail, handleError, membersAPI, mustNewClientNoSync, out, totalTimeout } from './common.js';

/** Runs `f` with the signal of the command's --total-timeout, cancelled when `f` settles. */
async function withTimeout<T>(c: V2Context, f: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const t = totalTimeout(c);
  try {
    return await f(t.signal);
  } finally {
    t.cancel();
  }
}

function errText(e: unknown): string {
  return (e as Error).message;
}

/**
 * Awaits one members API call; on any error prints `prefix` and the error's message on
 * stderr and exits 1 (member_commands.go's `fmt.Fprintln(os.Stderr, ...); os.Exit(1)`).
 */
async function orFail<T>(f: () => Promise<T>, prefix = ''): Promise<T> {
  try {
    return await f();
  } catch (e) {
    fail(prefix + errText(e));
  }
}

const list: V2Command = {
  name: 'list',
  usage: 'enumerate existing cluster members',
  argsUsage: ' ',
  async action(c) {
    if (c.args.length !== 0) fail('No arguments accepted');
    const api = await membersAPI(c);
    await withTimeout(c, async (signal) => {
      const members = await orFail(() => api.list({ signal }));
      const leader = await orFail(() => api.leader({ signal }), 'Failed to get leader:  ');
      let s = '';
      for (const m of members) {
        if (m.name.length === 0) s += `${m.id}[unstarted]: peerURLs=${m.peerURLs.join(',')}\n`;
        else s += `${m.id}: name=${m.name} peerURLs=${m.peerURLs.join(',')} clientURLs=${m.clientURLs.join(',')} isLeader=${m.id === leader.id}\n`;
      }
      out(s);
    });
  },
};

const add: V2Command = {
  name: 'add',
  usage: 'add a new member to the etcd cluster',
  argsUsage: '<name> <peerURL>',
  async action(c) {
    if (c.args.length !== 2) fail('Provide a name and a single member peerURL');
    const api = await membersAPI(c);
    const [newName, url] = c.args as [string, string];
    await withTimeout(c, async (signal) => {
      const m = await orFail(() => api.add(url, { signal }));
      out(`Added member named ${newName} with ID ${m.id} to cluster\n`);
      const members = await orFail(() => api.list({ signal }));
      const conf: string[] = [];
      for (const mb of members) {
        for (const u of mb.peerURLs) conf.push(`${mb.id === m.id ? newName : mb.name}=${u}`);
      }
      out(`\nETCD_NAME=${goQuote(newName)}\nETCD_INITIAL_CLUSTER=${goQuote(conf.join(','))}\nETCD_INITIAL_CLUSTER_STATE="existing"\n`);
    });
  },
};

const remove: V2Command = {
  name: 'remove',
  usage: 'remove an existing member from the etcd cluster',
  argsUsage: '<memberID>',
  async action(c) {
    if (c.args.length !== 1) fail('Provide a single member ID');
    const id = c.args[0]!;
    const api = await membersAPI(c);
    await withTimeout(c, async (signal) => {
      const members = await orFail(() => api.list({ signal }), 'Error while verifying ID against known members: ');
      let found = false;
      for (const m of members) {
        if (m.id === id) found = true;
        if (m.name === id) {
          err(`Found a member named ${m.name}; if this is correct, please use its ID, eg:\n\tetcdctl member remove ${m.id}\n`);
          err('For more details, read the documentation at https://github.com/etcd-io/etcd/blob/master/Documentation/runtime-configuration.md#remove-a-member\n\n');
        }
      }
      if (!found) {
        err(`Couldn't find a member in the cluster with an ID of ${id}.\n`);
        throw new V2Exit(1);
      }
      try {
        await api.remove(id, { signal });
      } catch (e) {
        err(`Received an error trying to remove member ${id}: ${errText(e)}`);
        throw new V2Exit(1);
      }
      out(`Removed member ${id} from cluster\n`);
    });
  },
};

const update: V2Command = {
  name: 'update',
  usage: 'update an existing member in the etcd cluster',
  argsUsage: '<memberID> <peerURLs>',
  async action(c) {
    if (c.args.length !== 2) fail('Provide an ID and a list of comma separated peerURL (0xabcd http://example.com,http://example1.com)');
    const api = await membersAPI(c);
    const [id, urls] = c.args as [string, string];
    await orFail(() => withTimeout(c, (signal) => api.update(id, urls.split(','), { signal })));
    out(`Updated member with ID ${id} in cluster\n`);
  },
};

/** `member` with its subcommands. */
export const memberCommand: V2Command = {
  name: 'member',
  usage: 'member add, remove and list subcommands',
  subcommands: [list, add, remove, update],
};

/** GET <url>/health with the command's TLS settings; Go's `Get "<url>": <err>` on failure. */
function getHealth(client: V2Client, url: string): Promise<Buffer> {
  const target = url + '/health';
  return new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(target);
    } catch {
      reject(new Error(`parse ${goQuote(target)}: invalid URL`));
      return;
    }
    const secure = u.protocol === 'https:';
    const req = (secure ? https : http).request(u, { method: 'GET', agent: client.agentFor(secure), headers: { 'User-Agent': 'Go-http-client/1.1' } });
    req.on('error', (e) => reject(new Error(`Get ${goQuote(target)}: ${goNetError(e as NodeJS.ErrnoException, u).message}`)));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve(Buffer.concat(chunks)));
      res.on('error', (e) => reject(e));
    });
    req.end();
  });
}

/** Go's json.Unmarshal of a health answer into struct{Health string}, then struct{Health bool}. */
function healthOf(body: Buffer): boolean {
  const o = JSON.parse(body.toString('utf8')) as unknown;
  if (o === null || typeof o !== 'object' || Array.isArray(o)) {
    if (o === null) return false;
    throw new Error(`json: cannot unmarshal ${Array.isArray(o) ? 'array' : typeof o} into Go value of type struct { Health string }`);
  }
  const key = Object.keys(o).find((k) => k.toLowerCase() === 'health');
  const v = key === undefined ? undefined : (o as Record<string, unknown>)[key];
  return v === 'true' || v === true;
}

/** `cluster-health [--forever]`: every member's /health; exit 5 unless all are healthy. */
export const clusterHealthCommand: V2Command = {
  name: 'cluster-health',
  usage: 'check the health of the etcd cluster',
  argsUsage: ' ',
  flags: [{ name: 'forever, f', kind: 'bool', usage: 'forever check the health every 10 second until CTRL+C' }],
  async action(c) {
    const forever = c.flags.bool('forever');
    if (forever) process.on('SIGINT', () => process.exit(0));
    const cln = await mustNewClientNoSync(c);
    let ms: V2Member[];
    try {
      ms = await new MembersAPI(cln).list();
    } catch (e) {
      out('cluster may be unhealthy: failed to list members\n');
      handleError(ExitServerError, e);
    }
    for (;;) {
      let healthy = 0;
      for (const m of ms) {
        if (m.clientURLs.length === 0) {
          out(`member ${m.id} is unreachable: no available published client urls\n`);
          continue;
        }
        let checked = false;
        for (const url of m.clientURLs) {
          let ok: boolean;
          try {
            ok = healthOf(await getHealth(cln, url));
          } catch (e) {
            out(`failed to check the health of member ${m.id} on ${url}: ${errText(e)}\n`);
            continue;
          }
          checked = true;
          if (ok) {
            out(`member ${m.id} is healthy: got healthy result from ${url}\n`);
            healthy++;
          } else out(`member ${m.id} is unhealthy: got unhealthy result from ${url}\n`);
          break;
        }
        if (!checked) out(`member ${m.id} is unreachable: [${m.clientURLs.join(' ')}] are all unreachable\n`);
      }
      if (healthy === ms.length) out('cluster is healthy\n');
      else if (healthy === 0) out('cluster is unavailable\n');
      else out('cluster is degraded\n');
      if (!forever) throw new V2Exit(healthy === ms.length ? 0 : ExitClusterNotHealthy);
      out('\nnext check after 10 second...\n\n');
      await new Promise((r) => setTimeout(r, 10_000));
    }
  },
};
