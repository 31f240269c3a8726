// Shared set-up of the v2 comparison suites: one real etcd 3.4.23 and one of ours, both
// started with --enable-v2 for the whole test file.

import { before, after } from 'node:test';
import { startEtcd, stopAll, type EtcdProcess } from '../../harness/etcd.js';

/** The two members a suite compares; both are set once the file's `before` hook ran. */
export interface V2Pair {
  real?: EtcdProcess;
  ours?: EtcdProcess;
}

/**
 * Registers the file's hooks: `before` starts real etcd 3.4.23 and ours with
 * --enable-v2 (harness defaults otherwise), `after` stops both by their PIDs.
 * Call at module level; read the members inside tests only.
 */
export function useV2Pair(): V2Pair {
  const pair: V2Pair = {};
  before(async () => {
    [pair.real, pair.ours] = await Promise.all([
      startEtcd({ serverKind: 'real', extraArgs: ['--enable-v2'] }),
      startEtcd({ serverKind: 'ours', extraArgs: ['--enable-v2'] }),
    ]);
  });
  after(() => stopAll(pair.real, pair.ours));
  return pair;
}
