/**
 * @module commands/check/datascale
 * `etcdctl check datascale [options]` (etcdctl check.go, newCheckDatascaleCommand):
 * reads the first endpoint's `process_resident_memory_bytes` from `<endpoint>/metrics`,
 * writes the load model's number of 512-byte random keys with 512-byte values under
 * --prefix from its number of concurrent writers (as fast as they go, with a progress
 * bar of completed writes), reads the metric again, deletes the keys and prints
 * `PASS: Approximate system memory used : <MB> MB.` (or the errors and exit 1).
 *
 * Models: s = 10,000 pairs from 50 clients, m = 100,000/200, l = 1,000,000/500,
 * xl = 3,000,000/1000. An unknown --load is exit 4 before connecting; keys already under
 * the prefix are exit 3; an unreadable metric prints why and
 * `FAIL: Could not read process_resident_memory_bytes ...`, exit 1. The writers share one
 * client here (etcdctl opens one per writer).
 *
 * Test-only: ETCDTS_CHECK_DATASCALE_LIMIT replaces the model's number of pairs.
 */

import type * as http from 'node:http';
import type * as https from 'node:https';
import { readFileSync } from 'node:fs';
import type { CommandContext, CommandSpec } from '../../cli/command.js';
import { CliError, ExitError, ExitInvalidInput, SilentExit } from '../../cli/exit-codes.js';
import { bytes, prefixEnd } from '../../client/range.js';
import {
  asCliError, AUTO_FLAGS, cleanUp, envOverride, errorText, loadModel, prefixHasKeysMessage,
  ProgressBar, putRandomVarint, Report, RequestQueue, runWorkers,
} from './common.js';

/** Number of pairs, bytes per pair and concurrent writers per model (check.go checkDatascaleCfgMap). */
const MODELS: Record<string, { limit: number; kvSize: number; clients: number }> = {
  s: { limit: 10000, kvSize: 1024, clients: 50 },
  m: { limit: 100000, kvSize: 1024, clients: 200 },
  l: { limit: 1000000, kvSize: 1024, clients: 500 },
  xl: { limit: 3000000, kvSize: 1024, clients: 1000 },
};

const ZERO = new Uint8Array([0]);
const KEY_SIZE = 512;
const VALUE_SIZE = 512;
const RSS_KEY = 'process_resident_memory_bytes';

/** GET `url`, resolving with the body; rejects with a Go-like error text. */
function fetchText(url: string, opts: https.RequestOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    // loaded here, not at start: node:https (and tls) cost every etcdctl command ~15 ms
    const lib = (url.startsWith('https://') ? process.getBuiltinModule('node:https') : process.getBuiltinModule('node:http')) as typeof http;
    const req = lib.get(url, opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', (e) => reject(new Error(`reading ${url}: ${e.message}`)));
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      const u = new URL(url);
      const hostport = `${u.hostname.includes(':') ? `[${u.hostname}]` : u.hostname}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
      let why = e.message;
      if (e.code === 'ECONNREFUSED') why = `dial tcp ${hostport}: connect: connection refused`;
      else if (e.code === 'ENOTFOUND') why = `dial tcp: lookup ${u.hostname}: no such host`;
      reject(new Error(`Get ${JSON.stringify(url)}: ${why}`));
    });
  });
}

/**
 * The resident memory of the member at `host` from its Prometheus metrics, as etcdctl's
 * endpointMemoryMetrics: `http://` is assumed without a scheme; for https the client
 * certificate and key are required (the server certificate is verified against the
 * system roots unless --insecure-skip-tls-verify). Failures print a line on stdout
 * and give 0.
 */
async function endpointMemoryMetrics(ctx: CommandContext, host: string): Promise<number> {
  if (!host.startsWith('http://') && !host.startsWith('https://')) host = 'http://' + host;
  const url = host + '/metrics';
  const opts: https.RequestOptions = {};
  if (url.startsWith('https://')) {
    const g = ctx.globals();
    try {
      opts.cert = readFileSync(g.cert);
      opts.key = readFileSync(g.key);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const path = err.path ?? '';
      const why = err.code === 'ENOENT' ? 'no such file or directory' : err.message;
      ctx.out.write(`client certificate error: open ${path}: ${why}\n`);
      return 0;
    }
    opts.rejectUnauthorized = !g.insecureSkipTlsVerify;
  }
  let body: string;
  try {
    body = await fetchText(url, opts);
  } catch (e) {
    ctx.out.write(`fetch error: ${(e as Error).message}\n`);
    return 0;
  }
  let raw = '';
  for (const line of body.split('\n')) {
    if (line.startsWith(RSS_KEY)) {
      raw = line.slice(RSS_KEY.length).trim();
      break;
    }
  }
  if (raw === '') {
    ctx.out.write(`could not find: ${RSS_KEY}\n`);
    return 0;
  }
  const v = Number(raw);
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw) || Number.isNaN(v)) {
    ctx.out.write(`parse error: strconv.ParseFloat: parsing ${JSON.stringify(raw)}: invalid syntax\n`);
    return 0;
  }
  return v;
}

export const checkDatascaleCommand: CommandSpec = {
  use: 'datascale [options]',
  short: 'Check the memory usage of holding data for different workloads on a given server endpoint.',
  long: 'If no endpoint is provided, localhost will be used. If multiple endpoints are provided, first endpoint will be used.',
  flags: [
    { name: 'load', type: 'string', default: 's', usage: "The datascale check's workload model. Accepted workloads: s(small), m(medium), l(large), xl(xLarge)" },
    { name: 'prefix', type: 'string', default: '/etcdctl-check-datascale/', usage: "The prefix for writing the datascale check's keys." },
    ...AUTO_FLAGS,
  ],
  async run(ctx) {
    const cfg = MODELS[loadModel(ctx.flags.string('load'))]!;
    const limit = envOverride(ctx.env, 'ETCDTS_CHECK_DATASCALE_LIMIT', cfg.limit);
    const prefixStr = ctx.flags.string('prefix');
    const prefix = bytes(prefixStr);
    const end = prefixEnd(prefix);
    // clientv3's WithPrefix on an empty key means every key: [\0, \0)
    const [rangeKey, rangeEnd] = prefix.length === 0 ? [ZERO, ZERO] : [prefix, end];
    const client = await ctx.client();
    const eps = ctx.globals().endpoints;

    try {
      const resp = await client.range({ key: rangeKey, rangeEnd, limit: 1n }, { timeoutMs: 0 });
      if (resp.kvs.length > 0) throw new CliError(ExitInvalidInput, prefixHasKeysMessage(prefixStr));
    } catch (e) {
      throw asCliError(e);
    }

    const key = new Uint8Array(prefix.length + KEY_SIZE);
    key.set(prefix);
    const keyTail = key.subarray(prefix.length);
    const value = new Uint8Array(VALUE_SIZE);
    const report = new Report();

    const before = await endpointMemoryMetrics(ctx, eps[0] ?? '');
    if (before === 0) {
      ctx.out.write('FAIL: Could not read process_resident_memory_bytes before the put operations.\n');
      throw new SilentExit(ExitError);
    }

    ctx.out.write(`Start data scale check for work load [${limit} key-value pairs, ${cfg.kvSize} bytes per key-value, ${cfg.clients} concurrent clients].\n`);
    const bar = new ProgressBar(ctx.out, limit);
    bar.start();

    const queue = new RequestQueue<Uint8Array>(cfg.clients);
    const workers = runWorkers(cfg.clients, async () => {
      for (let k = await queue.pop(); k !== undefined; k = await queue.pop()) {
        const st = performance.now();
        try {
          await client.put({ key: k, value }, { timeoutMs: 0 });
          report.add({ seconds: (performance.now() - st) / 1000 });
        } catch (e) {
          report.add({ error: errorText(e) });
        }
        bar.add(1);
      }
    });
    const generator = (async () => {
      for (let i = 0; i < limit; i++) {
        putRandomVarint(keyTail);
        await queue.push(Uint8Array.from(key));
      }
      queue.close();
    })();

    try {
      await generator;
      await workers;
    } finally {
      bar.finish();
    }
    const s = report.stats();

    const after = await endpointMemoryMetrics(ctx, eps[0] ?? '');
    if (after === 0) {
      ctx.out.write('FAIL: Could not read process_resident_memory_bytes after the put operations.\n');
      throw new SilentExit(ExitError);
    }

    await cleanUp(ctx, client, rangeKey, rangeEnd);

    const mbUsed = (after - before) / (1024 * 1024);
    if (s.errorDist.size !== 0) {
      let out = 'FAIL: too many errors\n';
      for (const [k, v] of s.errorDist) out += `FAIL: ERROR(${k}) -> ${v}\n`;
      ctx.out.write(out);
      throw new SilentExit(ExitError);
    }
    ctx.out.write(`PASS: Approximate system memory used : ${mbUsed.toFixed(2)} MB.\n`);
  },
};
