// What the CLI suites (test/cli) test, chosen by the environment variable ETCDTS_TARGET:
//
//   cli   (default)  our etcdctl (bin/etcdctl) vs the real etcdctl 3.4.23,
//                    both against real etcd 3.4.23 servers;
//   serve            our server (bin/etcd) vs real etcd 3.4.23, both driven by the
//                    real etcdctl 3.4.23 with the same commands and seeds.
//
// Every comparison has a reference side (real etcdctl -> real etcd) and a side under
// test (the "subject"): SUBJECT_BIN against the subject server (run.ts compareCli,
// runScenario; etcd.ts startComparedEtcd, startTwinEtcds).
//
//   ETCDTS_TARGET=serve node --test --test-concurrency=2 dist/test/cli/
//
// Cases that test only our CLI (help texts, flag parsing, offline commands) or that
// cannot work on our server by design are skipped in serve mode with the reason
// (skipInServe).

/**
 * The test targets: `cli` (our etcdctl vs the real one, both on real etcd), `serve`
 * (the real etcdctl on our server vs on real etcd) and `serve-ours` (our etcdctl on our
 * server vs the real etcdctl on real etcd: the whole product against the reference).
 */
export type Target = 'cli' | 'serve' | 'serve-ours';

function parseTarget(v: string | undefined): Target {
  if (v === undefined || v === '' || v === 'cli') return 'cli';
  if (v === 'serve' || v === 'serve-ours') return v;
  throw new Error(`ETCDTS_TARGET must be "cli", "serve" or "serve-ours", got ${JSON.stringify(v)}`);
}

/** The target of this test process (from ETCDTS_TARGET; throws on an unknown value). */
export const TARGET: Target = parseTarget(process.env.ETCDTS_TARGET);

/** True in the serve modes: the side under test runs against our server. */
export const SERVE = TARGET === 'serve' || TARGET === 'serve-ours';

/** True when the side under test uses our etcdctl (cli and serve-ours modes). */
export const OUR_CLI = TARGET !== 'serve';

/**
 * A node:test `skip` option: in serve mode the reason (the test is skipped and the
 * reason shown), in cli mode false. Use for cases that do not involve the server
 * (ours vs real etcdctl only) or that cannot work on our server by design.
 */
export function skipInServe(reason: string): string | false {
  return SERVE ? `serve mode: ${reason}` : false;
}

/** Reason used for cases that exercise only the CLI (no server behaviour to compare). */
export const CLI_ONLY = 'compares only the CLIs (flags, help, offline output); no server behaviour involved';
