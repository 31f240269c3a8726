/**
 * The `etcd` program (etcd 3.4 etcdmain/main.go Main + etcd.go startEtcdOrProxyV2):
 * parse flags/env/config file (../embed/config.ts), report errors the way etcd does,
 * set up the logger, start the member with startEtcd (../embed/etcd.ts), and on
 * SIGINT/SIGTERM close it gracefully and end by the same signal (etcd pkg/osutil
 * HandleInterrupts re-raises it, so the exit status is 128+signal, e.g. 143 for SIGTERM).
 *
 * Exit codes as real etcd 3.4.23: 0 for --help/--version; 2 for flag syntax errors and
 * a bad --log-level (etcd panics); 1 for invalid configuration and startup failures.
 *
 * Used by bin/etcd and by `etcdctl serve` (bin/etcdctl dispatches before loading the CLI).
 * With --cluster-size N (ours, not etcd's) it runs ./cluster-launcher.ts instead: N member
 * processes of this program on one machine.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { EmbedConfig } from '../embed/config-types.js';
import { ERR_UNSET_ADVERTISE_CLIENT_URLS, initialClusterFromName, parseEtcdConfig, verifyBootstrap, versionText, whatwgToGoString, DEFAULT_INITIAL_ADVERTISE_PEER_URLS } from '../embed/config.js';
import { parseGoUrl } from '../embed/urls.js';
import { capnslogLine, createCapnslogLogger, createZapLogger, type Logger } from '../logger.js';

/** What startEtcd (src/server/embed/etcd.ts) returns: a running member. */
export interface EtcdHandle {
  /** Stops serving and closes the member (etcd Etcd.Close). */
  close(): Promise<void>;
  /** When present: settles when the member stops by itself (rejects on a listener error). */
  readonly stopped?: Promise<unknown>;
}

/** The shape of src/server/embed/etcd.ts startEtcd. */
export type StartEtcd = (cfg: EmbedConfig, logger: Logger) => Promise<EtcdHandle>;

/** Where main writes and which signals it listens to (tests replace them). */
export interface MainIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Starts the member; default: startEtcd from ../embed/etcd.js. */
  startEtcd?: StartEtcd;
  /** Registers the SIGINT/SIGTERM handler; returns an unregister function. Default: process.on. */
  onSignal?(handler: (sig: 'SIGINT' | 'SIGTERM') => void): () => void;
  /** For log timestamps (tests). */
  now?: () => number;
}

const defaultIo: MainIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
};

/**
 * Loads startEtcd from ../embed/etcd.js on first use (the server pulls in lmdb and grpc,
 * which `--help`/`--version` and flag errors must not wait for).
 * @throws Error when the module or its export is missing.
 */
export async function loadStartEtcd(): Promise<StartEtcd> {
  const modPath = '../embed/etcd.js';
  let mod: { startEtcd?: StartEtcd };
  try {
    // a literal specifier, so the bundle (dist/etcd.cjs) holds the server too
    mod = (await import('../embed/etcd.js')) as { startEtcd?: StartEtcd };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && (e as Error).message.includes('embed/etcd.js')) {
      throw new Error('the etcd server module (src/server/embed/etcd.ts) is not built: run `npm run build`');
    }
    throw e;
  }
  if (typeof mod.startEtcd !== 'function') throw new Error(`${modPath} does not export startEtcd`);
  return mod.startEtcd;
}

function processSignals(handler: (sig: 'SIGINT' | 'SIGTERM') => void): () => void {
  const onInt = () => handler('SIGINT');
  const onTerm = () => handler('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return () => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  };
}

/**
 * Runs etcd with `argv` (without the program name) and `env`.
 * Resolves with the exit code, or with the signal the process must end by (after a
 * graceful close on SIGINT/SIGTERM, as etcd re-raises it). Never rejects for bad input.
 */
export async function main(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: MainIo = defaultIo): Promise<number | NodeJS.Signals> {
  const now = io.now ?? Date.now;
  // `etcd gateway ...`: the L4 TCP proxy (etcdmain/main.go dispatches os.Args[1] == "gateway")
  if (argv[0] === 'gateway') {
    const { gatewayMain } = await import('./gateway.js');
    return gatewayMain(argv.slice(1), io);
  }
  // --cluster-size is ours, not etcd's: a launcher of N member processes (./cluster-launcher.ts)
  if (argv.some((a) => /^--?cluster-size(=|$)/.test(a))) {
    const { runClusterLauncher } = await import('./cluster-launcher.js');
    const r = await runClusterLauncher(argv, env, io, (a, e) => main(a, e, io));
    if (r !== undefined) return r;
  }
  const parsed = parseEtcdConfig(argv, env, { now });
  if (parsed.preamble) io.stderr(parsed.preamble);

  if (parsed.kind === 'exit') {
    if (parsed.stderr) io.stderr(parsed.stderr);
    if (parsed.stdout) io.stdout(parsed.stdout);
    return parsed.code;
  }

  const zapLogger = (cfg?: EmbedConfig) =>
    createZapLogger({ level: cfg?.log.level ?? 'info', outputs: cfg?.log.logger === 'zap' ? cfg.log.outputs : ['default'], now, ...(io === defaultIo ? {} : { stream: { write: (s: string) => io.stderr(s) } }) });
  // the server's logger: zap JSON, or capnslog lines with etcd 3.4's default --logger=capnslog
  const serverLogger = (cfg: EmbedConfig): Logger =>
    cfg.log.logger === 'zap'
      ? zapLogger(cfg)
      : createCapnslogLogger({ level: cfg.log.level, outputs: cfg.log.outputs, now, ...(io === defaultIo ? {} : { write: (s: string) => (cfg.log.outputs[0] === 'stdout' ? io.stdout(s) : io.stderr(s)) }) });

  if (parsed.kind === 'invalid') {
    const unsetAc = parsed.error.message === ERR_UNSET_ADVERTISE_CLIENT_URLS;
    if (parsed.zapReady && parsed.config) {
      const lg = zapLogger(parsed.config);
      lg.warn('failed to verify flags', { error: parsed.error });
      if (unsetAc) lg.warn('advertise client URLs are not set', { error: parsed.error });
    } else if (parsed.zapReady) {
      // etcd's zap logger exists but the config did not resolve: log JSON to stderr
      const lg = zapLogger();
      lg.warn('failed to verify flags', { error: parsed.error });
      if (unsetAc) lg.warn('advertise client URLs are not set', { error: parsed.error });
    } else {
      io.stderr(capnslogLine('E', 'etcdmain', `error verifying flags, ${parsed.error.message}. See 'etcd --help'.`, now()));
      if (unsetAc) io.stderr(capnslogLine('E', 'etcdmain', 'When listening on specific address(es), this etcd process must advertise accessible url(s) to each connected client.', now()));
    }
    return 1;
  }

  const cfg = parsed.config;
  const zap = cfg.log.logger === 'zap';
  let lg: Logger;
  try {
    lg = serverLogger(cfg);
  } catch (e) {
    io.stderr(capnslogLine('E', 'etcdmain', `error verifying flags, ${(e as Error).message}. See 'etcd --help'.`, now()));
    return 1;
  }
  if (parsed.configFile !== '' && zap) {
    lg.info('loaded server configuration, other configuration command line flags and environment variables will be ignored if provided', { path: parsed.configFile });
  }
  if (!zap) {
    for (const line of versionText().trimEnd().split('\n')) io.stderr(capnslogLine('I', 'etcdmain', line, now()));
  }
  for (const flag of parsed.unsupported) lg.warn('flag is accepted for compatibility but has no effect in this etcd', { flag });
  if (parsed.dataDirDefaulted) {
    if (zap) lg.warn("'data-dir' was empty; using default", { 'data-dir': cfg.dataDir });
    else io.stderr(capnslogLine('W', 'etcdmain', `no data-dir provided, using default data-dir ./${cfg.dataDir}`, now()));
  }

  const memberInitialized = existsSync(join(cfg.dataDir, 'member'));
  if (memberInitialized) {
    lg.info('server has been already initialized', { 'data-dir': cfg.dataDir, 'dir-type': 'member' }, { pkg: 'etcdmain', text: 'the server is already initialized as member before, starting as etcd member...' });
  }

  let handle: EtcdHandle;
  try {
    // with --discovery-srv the initial cluster is known only once startEtcd looked it up (it verifies then)
    if (!memberInitialized && cfg.initialClusterState === 'new' && !cfg.discovery?.srv) verifyBootstrap(cfg);
    const start = io.startEtcd ?? (await loadStartEtcd());
    handle = await start(cfg, lg);
  } catch (e) {
    return reportStartFailure(e as Error, cfg, lg, zap, io, now);
  }

  return await new Promise<number | NodeJS.Signals>((resolve) => {
    let closing = false;
    const off = (io.onSignal ?? processSignals)((sig) => {
      if (closing) return;
      closing = true;
      const name = sig === 'SIGINT' ? 'interrupt' : 'terminated';
      lg.info('received signal; shutting down', { signal: name }, { level: 'N', pkg: 'pkg/osutil', text: `received ${name} signal, shutting down...` });
      handle.close().then(
        () => {
          off();
          resolve(sig);
        },
        (err: unknown) => {
          off();
          lg.error('failed to close etcd', { error: err as Error });
          resolve(sig);
        },
      );
    });
    handle.stopped?.then(
      () => {
        if (closing) return;
        off();
        resolve(0);
      },
      (err: unknown) => {
        if (closing) return;
        off();
        lg.fatal('listener failed', { error: err as Error });
        resolve(1);
      },
    );
  });
}

/** etcd startEtcdOrProxyV2's error path after a failed start: hints for --initial-cluster mistakes, else fatal; exit 1. */
function reportStartFailure(err: Error, cfg: EmbedConfig, lg: Logger, zap: boolean, io: MainIo, now: () => number): number {
  if (err.name === 'DiscoveryError') return reportDiscoveryFailure(err as Error & { err: Error }, cfg, lg, zap, io, now);
  if (zap) lg.warn('failed to start etcd', { error: err });
  const msg = err.message;
  if (msg.includes('include') && msg.includes('--initial-cluster')) {
    if (zap) lg.warn('failed to start', { error: err });
    else io.stderr(capnslogLine('I', 'etcdmain', msg, now()));
    const ap = cfg.initialAdvertisePeerUrls.map(whatwgToGoString);
    const fromName = initialClusterFromName(cfg.name, ap.map(parseGoUrl));
    const ic = [...cfg.initialCluster].flatMap(([n, us]) => us.map((u) => `${n}=${u}`)).join(',');
    if (ic === fromName) {
      if (zap) lg.warn('forgot to set --initial-cluster?');
      else io.stderr(capnslogLine('I', 'etcdmain', 'forgot to set --initial-cluster flag?', now()));
    }
    if (ap.join(',') === DEFAULT_INITIAL_ADVERTISE_PEER_URLS) {
      if (zap) lg.warn('forgot to set --initial-advertise-peer-urls?');
      else io.stderr(capnslogLine('I', 'etcdmain', 'forgot to set --initial-advertise-peer-urls flag?', now()));
    }
    if (ic === fromName) {
      if (zap) lg.warn('--discovery flag is not set');
      else io.stderr(capnslogLine('I', 'etcdmain', 'if you want to use discovery service, please set --discovery flag.', now()));
    }
    return 1;
  }
  if (zap) lg.fatal('discovery failed', { error: err });
  else io.stderr(capnslogLine('C', 'etcdmain', msg, now()));
  return 1;
}

/**
 * etcdmain startEtcdOrProxyV2 for an etcdserver.DiscoveryError (see
 * ../etcdserver/api/v2discovery/discovery.ts): a full cluster with
 * --discovery-fallback=proxy is where etcd starts its v2 proxy, which this server does
 * not have (fatal, exit 1); otherwise etcd's advice for a duplicate ID, a duplicate name
 * or any other failure, exit 1.
 */
function reportDiscoveryFailure(err: Error & { err: Error }, cfg: EmbedConfig, lg: Logger, zap: boolean, io: MainIo, now: () => number): number {
  const inner = err.err;
  const durl = cfg.discovery?.url ?? '';
  const plog = (level: 'E' | 'I' | 'N', text: string) => {
    if (!zap) io.stderr(capnslogLine(level, 'etcdmain', text, now()));
  };
  if (inner.message === 'discovery: cluster is full') {
    if ((cfg.discovery?.fallback ?? 'proxy') === 'proxy') {
      if (zap) lg.warn('discovery cluster is full, falling back to proxy', { 'fallback-proxy': 'proxy', error: err });
      else plog('N', 'discovery cluster full, falling back to proxy');
      const why = new Error('--discovery-fallback=proxy: the v2 proxy is not supported by this etcd (use --discovery-fallback=exit, or a new discovery token)');
      if (zap) lg.fatal('failed to start the v2 proxy', { error: why });
      else io.stderr(capnslogLine('C', 'etcdmain', why.message, now()));
      return 1;
    }
  } else if (zap) {
    lg.warn('failed to start etcd', { error: err });
  }
  if (inner.message === 'discovery: found duplicate id') {
    if (zap) {
      lg.warn('member has been registered with discovery service', { name: cfg.name, 'discovery-token': durl, error: inner });
      lg.warn('but could not find valid cluster configuration', { 'data-dir': cfg.dataDir });
      lg.warn('check data dir if previous bootstrap succeeded');
      lg.warn('or use a new discovery token if previous bootstrap failed');
    } else {
      plog('E', `member ${JSON.stringify(cfg.name)} has previously registered with discovery service token (${durl}).`);
      plog('E', `But etcd could not find valid cluster configuration in the given data dir (${cfg.dataDir}).`);
      plog('I', 'Please check the given data dir path if the previous bootstrap succeeded');
      plog('I', 'or use a new discovery token if the previous bootstrap failed.');
    }
  } else if (inner.message === 'discovery: found duplicate name') {
    if (zap) {
      lg.warn('member with duplicated name has already been registered', { 'discovery-token': durl, error: inner });
      lg.warn('cURL the discovery token URL for details');
      lg.warn('do not reuse discovery token; generate a new one to bootstrap a cluster');
    } else {
      plog('E', `member with duplicated name has registered with discovery service token(${durl}).`);
      plog('E', 'please check (cURL) the discovery token for more information.');
      plog('E', 'please do not reuse the discovery token and generate a new one to bootstrap the cluster.');
    }
  } else if (zap) {
    lg.warn('failed to bootstrap; discovery token was already used', { 'discovery-token': durl, error: err });
    lg.warn('do not reuse discovery token; generate a new one to bootstrap a cluster');
  } else {
    plog('E', err.message);
    plog('I', `discovery token ${durl} was used, but failed to bootstrap the cluster.`);
    plog('I', 'please generate a new discovery token and try to bootstrap again.');
  }
  return 1;
}
