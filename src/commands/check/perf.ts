/**
 * @module commands/check/perf
 * `etcdctl check perf [options]` (etcdctl check.go, newCheckPerfCommand): writes
 * random 256-byte keys under --prefix with 1 KiB values at the load model's rate from
 * the model's number of concurrent writers for 60 s, showing a progress bar of the
 * seconds, then deletes the keys and judges the run:
 *
 *   PASS/FAIL: throughput above 90 % of the target rate (`PASS: Throughput is N writes/s`),
 *   slowest request at most 0.5 s, standard deviation at most 0.1 s, no errors;
 *   then `PASS`, or `FAIL` and exit 1.
 *
 * Models: s = 150 writes/s from 50 clients, m = 1000/200, l = 8000/500, xl = 15000/1000.
 * An unknown --load is exit 4 before connecting; keys already under the prefix are
 * exit 3. etcdctl opens one client connection per writer; here the writers share one
 * client (gRPC multiplexes their concurrent requests over its HTTP/2 connection).
 *
 * Test-only: ETCDTS_CHECK_DURATION_MS shortens the 60 s run (the bar counts whole
 * seconds of it).
 */

import type { CommandSpec } from '../../cli/command.js';
import { CliError, ExitError, ExitInvalidInput, SilentExit } from '../../cli/exit-codes.js';
import { bytes, prefixEnd } from '../../client/range.js';
import {
  asCliError, AUTO_FLAGS, cleanUp, envOverride, errorText, goFloatF, loadModel, prefixHasKeysMessage,
  ProgressBar, putRandomVarint, RateLimiter, Report, RequestQueue, runWorkers,
} from './common.js';

/** Target rate (writes/s), concurrent writers and duration (s) per model (check.go checkPerfCfgMap). */
const MODELS: Record<string, { limit: number; clients: number; duration: number }> = {
  s: { limit: 150, clients: 50, duration: 60 },
  m: { limit: 1000, clients: 200, duration: 60 },
  l: { limit: 8000, clients: 500, duration: 60 },
  xl: { limit: 15000, clients: 1000, duration: 60 },
};

const ZERO = new Uint8Array([0]);
const KEY_SIZE = 256;
const VALUE_SIZE = 1024;

export const checkPerfCommand: CommandSpec = {
  use: 'perf [options]',
  short: 'Check the performance of the etcd cluster',
  flags: [
    { name: 'load', type: 'string', default: 's', usage: "The performance check's workload model. Accepted workloads: s(small), m(medium), l(large), xl(xLarge)" },
    { name: 'prefix', type: 'string', default: '/etcdctl-check-perf/', usage: "The prefix for writing the performance check's keys." },
    ...AUTO_FLAGS,
  ],
  async run(ctx) {
    const cfg = MODELS[loadModel(ctx.flags.string('load'))]!;
    const durationMs = envOverride(ctx.env, 'ETCDTS_CHECK_DURATION_MS', cfg.duration * 1000);
    const prefixStr = ctx.flags.string('prefix');
    const prefix = bytes(prefixStr);
    const end = prefixEnd(prefix);
    // clientv3's WithPrefix on an empty key means every key: [\0, \0)
    const [rangeKey, rangeEnd] = prefix.length === 0 ? [ZERO, ZERO] : [prefix, end];
    const client = await ctx.client();

    try {
      const resp = await client.range({ key: rangeKey, rangeEnd, limit: 1n }, { timeoutMs: durationMs });
      if (resp.kvs.length > 0) throw new CliError(ExitInvalidInput, prefixHasKeysMessage(prefixStr));
    } catch (e) {
      throw asCliError(e);
    }

    const key = new Uint8Array(prefix.length + KEY_SIZE);
    key.set(prefix);
    const keyTail = key.subarray(prefix.length);
    const value = new Uint8Array(VALUE_SIZE);

    const seconds = Math.max(1, Math.ceil(durationMs / 1000));
    const bar = new ProgressBar(ctx.out, seconds);
    bar.start();

    const report = new Report();
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
      }
    });

    const startedAt = Date.now();
    const limiter = new RateLimiter(cfg.limit, startedAt + durationMs);
    const generator = (async () => {
      while (await limiter.wait()) {
        putRandomVarint(keyTail);
        await queue.push(Uint8Array.from(key));
      }
      queue.close();
    })();

    let ticks = 0;
    const ticker = setInterval(() => {
      ticks++;
      bar.add(1);
      if (ticks >= seconds) {
        clearInterval(ticker);
        bar.finish();
      }
    }, (durationMs / seconds));

    try {
      await generator;
      await workers;
    } finally {
      clearInterval(ticker);
      bar.stop();
    }
    const s = report.stats();

    await cleanUp(ctx, client, rangeKey, rangeEnd);

    let ok = true;
    let out = '';
    if (s.errorDist.size !== 0) {
      out += 'FAIL: too many errors\n';
      for (const [k, v] of s.errorDist) out += `FAIL: ERROR(${k}) -> ${v}\n`;
      ok = false;
    }
    const rps = Math.trunc(s.rps) + 1;
    if (s.rps / cfg.limit <= 0.9) {
      out += `FAIL: Throughput too low: ${rps} writes/s\n`;
      ok = false;
    } else {
      out += `PASS: Throughput is ${rps} writes/s\n`;
    }
    if (s.slowest > 0.5) {
      out += `Slowest request took too long: ${goFloatF(s.slowest)}s\n`;
      ok = false;
    } else {
      out += `PASS: Slowest request took ${goFloatF(s.slowest)}s\n`;
    }
    if (s.stddev > 0.1) {
      out += `Stddev too high: ${goFloatF(s.stddev)}s\n`;
      ok = false;
    } else {
      out += `PASS: Stddev is ${goFloatF(s.stddev)}s\n`;
    }
    out += ok ? 'PASS\n' : 'FAIL\n';
    ctx.out.write(out);
    if (!ok) throw new SilentExit(ExitError);
  },
};
