/**
 * The `etcd` command line → EmbedConfig, as etcd 3.4's etcdmain/config.go
 * (newConfig, parse, configFromCmdLine, configFromFile) and embed/config.go
 * (NewConfig defaults, Validate, configYAML) do it:
 *
 * 1. Go `flag` parsing (./go-flag.ts): a parse error prints `<error>\n<usage>` on stderr, exit 2;
 *    `-h`/`--help` prints the usage on stderr and the flags text on stdout, exit 0;
 * 2. positional arguments: `'x' is not a valid flag`;
 * 3. `--version`: the version lines on stdout, exit 0;
 * 4. `--config-file` (or ETCD_CONFIG_FILE): YAML with the flags' names as keys; every
 *    other flag and ETCD_* variable is then ignored;
 *    otherwise ETCD_<FLAG> variables fill the flags not given (etcd pkg/flags
 *    SetFlagsFromEnv: a variable for a flag also given on the command line is fatal,
 *    unknown ETCD_* variables are warned);
 * 5. Validate (log settings, URLs, cluster state, timeouts, ...).
 *
 * Nothing here prints or exits: parseEtcdConfig returns what to print and the exit code,
 * and etcdmain/main.ts does it.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { capnslogLine } from '../logger.js';
import type { EmbedConfig, TlsConfig } from './config-types.js';
import { FlagHelpRequested, FlagParseError, type FlagValue, GoFlagSet, formatGoDuration, goQuote } from './go-flag.js';
import {
  BoolValue, DurationValue, IgnoredFlagValue, IntValue, SelectiveStringValue, StringValue, StringsValue,
  Uint32Value, UintValue, UniqueStringsValue, UniqueUrlsValue,
} from './flag-values.js';
import { type GoUrl, goUrlString, newUrls, newUrlsMap, splitHostPort, toWhatwgUrl } from './urls.js';
import { flagsline, usageline } from '../etcdmain/help.js';
import { goPathError } from '../../util/go-errors.js';
import { resolveTcpAddr } from '../../util/dns-srv.js';

/** The version `etcd --version` and the startup log report (etcd version/version.go). */
export const ETCD_VERSION = '3.4.23';
/** What we print where etcd prints its Git SHA. */
export const GIT_SHA = 'Not provided (etcd-ts, Node.js build)';

/** etcd embed defaults (embed/config.go). */
export const DEFAULT_NAME = 'default';
export const DEFAULT_LISTEN_PEER_URLS = 'http://localhost:2380';
export const DEFAULT_LISTEN_CLIENT_URLS = 'http://localhost:2379';
export const DEFAULT_INITIAL_ADVERTISE_PEER_URLS = 'http://localhost:2380';
export const DEFAULT_ADVERTISE_CLIENT_URLS = 'http://localhost:2379';
/** ms; embed maxElectionMs */
const MAX_ELECTION_MS = 50000;

/** etcd embed.ErrUnsetAdvertiseClientURLsFlag's text. */
export const ERR_UNSET_ADVERTISE_CLIENT_URLS = '--advertise-client-urls is required when --listen-client-urls is set explicitly';

/**
 * Flags accepted for compatibility whose behaviour this server does not implement.
 * Setting one to a non-default value produces a warning (see `ParsedConfig.unsupported`).
 */
export const ACCEPTED_WITHOUT_EFFECT = [
  'backend-batch-interval', 'backend-batch-limit', 'cipher-suites', 'client-cert-allowed-hostname',
  'cors', 'debug', 'enable-pprof',
  'experimental-backend-bbolt-freelist-type', 'experimental-corrupt-check-time', 'experimental-initial-corrupt-check',
  'experimental-peer-skip-client-san-verification', 'host-whitelist', 'log-package-levels', 'metrics',
  'proxy-dial-timeout', 'proxy-failure-wait', 'proxy-read-timeout',
  'proxy-refresh-interval', 'proxy-write-timeout', 'experimental-enable-lease-checkpoint-persist',
] as const;

/**
 * Flags whose non-default values are rejected at validation (exit 1, "failed to verify flags"):
 * the v2 proxy, v2v3 emulation.
 */
export const REJECTED_VALUES = ['proxy=on|readonly', 'experimental-enable-v2v3'] as const;

/** etcdmain `ignored` flags: accepted, warned, no effect. */
const IGNORED_FLAGS = [
  'cluster-active-size', 'cluster-remove-delay', 'cluster-sync-interval', 'config', 'force', 'max-result-buffer',
  'max-retry-attempts', 'peer-heartbeat-interval', 'peer-election-timeout', 'retry-interval', 'snapshot', 'v', 'vv',
  'test.coverprofile', 'test.outputdir',
];

/** The flag set and the values behind it (etcdmain configFlags + embed.Config fields). */
class EtcdFlags {
  readonly fs = new GoFlagSet();
  readonly v: Record<string, FlagValue> = {};

  constructor(warn: (pkg: string, text: string) => void) {
    const def = (name: string, value: FlagValue, usage = '') => {
      this.v[name] = this.fs.define(name, value, usage);
    };
    def('config-file', new StringValue(''));
    // member
    def('data-dir', new StringValue(''));
    def('wal-dir', new StringValue(''));
    def('listen-peer-urls', new UniqueUrlsValue(DEFAULT_LISTEN_PEER_URLS, ''));
    def('listen-client-urls', new UniqueUrlsValue(DEFAULT_LISTEN_CLIENT_URLS, ''));
    def('listen-metrics-urls', new UniqueUrlsValue('', ''));
    def('max-snapshots', new UintValue(5));
    def('max-wals', new UintValue(5));
    def('name', new StringValue(DEFAULT_NAME));
    def('snapshot-count', new UintValue(100000));
    def('heartbeat-interval', new UintValue(100));
    def('election-timeout', new UintValue(1000));
    def('initial-election-tick-advance', new BoolValue(true));
    def('quota-backend-bytes', new IntValue(0));
    def('backend-batch-interval', new DurationValue(0));
    def('backend-batch-limit', new IntValue(0));
    def('max-txn-ops', new UintValue(128));
    def('max-request-bytes', new UintValue(1572864));
    def('grpc-keepalive-min-time', new DurationValue(5e9));
    def('grpc-keepalive-interval', new DurationValue(2 * 3600e9));
    def('grpc-keepalive-timeout', new DurationValue(20e9));
    def('max-concurrent-streams', new Uint32Value(0xffffffff));
    // clustering
    def('initial-advertise-peer-urls', new UniqueUrlsValue(DEFAULT_INITIAL_ADVERTISE_PEER_URLS, ''));
    def('advertise-client-urls', new UniqueUrlsValue(DEFAULT_ADVERTISE_CLIENT_URLS, ''));
    def('discovery', new StringValue(''));
    def('discovery-fallback', new SelectiveStringValue('proxy', 'exit'));
    def('discovery-proxy', new StringValue(''));
    def('discovery-srv', new StringValue(''));
    def('discovery-srv-name', new StringValue(''));
    def('initial-cluster', new StringValue(`${DEFAULT_NAME}=${DEFAULT_INITIAL_ADVERTISE_PEER_URLS}`));
    def('initial-cluster-token', new StringValue('etcd-cluster'));
    def('initial-cluster-state', new SelectiveStringValue('new', 'existing'));
    def('strict-reconfig-check', new BoolValue(true));
    def('enable-v2', new BoolValue(false));
    // on by default, as in etcd 3.5+ (3.4: off); `--pre-vote=false` or `pre-vote: false` turns it off
    def('pre-vote', new BoolValue(true));
    // proxy
    def('proxy', new SelectiveStringValue('off', 'readonly', 'on'));
    def('proxy-failure-wait', new UintValue(5000));
    def('proxy-refresh-interval', new UintValue(30000));
    def('proxy-dial-timeout', new UintValue(1000));
    def('proxy-write-timeout', new UintValue(5000));
    def('proxy-read-timeout', new UintValue(0));
    // security
    for (const f of ['cert-file', 'key-file', 'client-crl-file', 'client-cert-allowed-hostname', 'trusted-ca-file']) def(f, new StringValue(''));
    def('client-cert-auth', new BoolValue(false));
    def('auto-tls', new BoolValue(false));
    for (const f of ['peer-cert-file', 'peer-key-file', 'peer-trusted-ca-file', 'peer-crl-file', 'peer-cert-allowed-cn', 'peer-cert-allowed-hostname']) def(f, new StringValue(''));
    def('peer-client-cert-auth', new BoolValue(false));
    def('peer-auto-tls', new BoolValue(false));
    def('cipher-suites', new StringsValue(''));
    def('experimental-peer-skip-client-san-verification', new BoolValue(false));
    def('cors', new UniqueUrlsValue('*', '*'));
    def('host-whitelist', new UniqueStringsValue('*'));
    // logging
    def('logger', new StringValue('capnslog'));
    def('log-output', new UniqueStringsValue('default'));
    def('log-outputs', new UniqueStringsValue('default'));
    def('debug', new BoolValue(false));
    def('log-level', new StringValue('info'));
    def('log-package-levels', new StringValue(''));
    def('version', new BoolValue(false));
    def('auto-compaction-retention', new StringValue('0'));
    def('auto-compaction-mode', new StringValue('periodic'));
    def('enable-pprof', new BoolValue(false));
    def('metrics', new StringValue('basic'));
    // auth
    def('auth-token', new StringValue('simple'));
    def('bcrypt-cost', new UintValue(10));
    def('auth-token-ttl', new UintValue(300));
    def('enable-grpc-gateway', new BoolValue(true));
    // experimental
    def('experimental-initial-corrupt-check', new BoolValue(false));
    def('experimental-corrupt-check-time', new DurationValue(0));
    def('experimental-enable-v2v3', new StringValue(''));
    def('experimental-backend-bbolt-freelist-type', new StringValue(''));
    def('experimental-enable-lease-checkpoint', new BoolValue(false));
    def('experimental-enable-lease-checkpoint-persist', new BoolValue(false));
    def('experimental-compaction-batch-limit', new IntValue(0));
    def('experimental-watch-progress-notify-interval', new DurationValue(0));
    def('experimental-warning-apply-duration', new DurationValue(100e6));
    // unsafe
    def('unsafe-no-fsync', new BoolValue(false));
    def('force-new-cluster', new BoolValue(false));
    for (const f of IGNORED_FLAGS) def(f, new IgnoredFlagValue(f, (msg) => warn('pkg/flags', msg)));
  }

  str(n: string): string {
    return (this.v[n] as StringValue).value;
  }
  bool(n: string): boolean {
    return (this.v[n] as BoolValue).value;
  }
  num(n: string): number {
    const x = this.v[n] as UintValue | IntValue | Uint32Value;
    return x.value;
  }
  ns(n: string): number {
    return (this.v[n] as DurationValue).ns;
  }
  urls(n: string): GoUrl[] {
    return (this.v[n] as UniqueUrlsValue).urls;
  }
  sel(n: string): string {
    return (this.v[n] as SelectiveStringValue).value;
  }
  strs(n: string): string[] {
    const x = this.v[n];
    return x instanceof UniqueStringsValue ? x.sorted() : (x as StringsValue).values;
  }
}

/**
 * How etcd's flag `name` is written on a command line (etcdmain configFlags): 'bool' for
 * flags that take no separate argument (`--enable-v2`, `--enable-v2=false`), 'value' for
 * the others (`--name x`, `--name=x`), undefined for names etcd does not define.
 * For callers that rewrite an etcd command line (the --cluster-size launcher).
 */
export function etcdFlagKind(name: string): 'bool' | 'value' | undefined {
  const def = new EtcdFlags(() => {}).fs.lookup(name);
  if (!def) return undefined;
  return def.value.isBool ? 'bool' : 'value';
}

/** What the command line asks for once parsed (etcdmain config). */
export type ParsedConfig =
  /** print and exit: --help, --version, flag syntax errors (exit 2), fatal env conflicts (exit 1) */
  | { kind: 'exit'; code: number; stdout: string; stderr: string; preamble: string }
  /**
   * Configuration rejected (etcd: "failed to verify flags", exit 1). `zapReady`: etcd had set up
   * its zap logger before failing (then it logs JSON, otherwise a capnslog line).
   */
  | { kind: 'invalid'; error: Error; zapReady: boolean; config?: EmbedConfig; preamble: string }
  /** Start the server with `config`. */
  | { kind: 'ok'; config: EmbedConfig; preamble: string; configFile: string; unsupported: string[]; dataDirDefaulted: boolean };

/** Parsing inputs besides argv. */
export interface ParseOptions {
  /** for capnslog line timestamps (tests) */
  now?: () => number;
  /** Node version etc. for --version's Go lines */
  runtimeVersion?: string;
  platform?: string;
  arch?: string;
}

/** The lines `etcd --version` prints (etcdmain/config.go parse). */
export function versionText(opts: ParseOptions = {}): string {
  const arch = opts.arch ?? process.arch;
  const goArch = arch === 'x64' ? 'amd64' : arch === 'ia32' ? '386' : arch;
  return (
    `etcd Version: ${ETCD_VERSION}\n` +
    `Git SHA: ${GIT_SHA}\n` +
    `Go Version: ${opts.runtimeVersion ?? `node${process.versions.node}`}\n` +
    `Go OS/Arch: ${opts.platform ?? process.platform}/${goArch}\n`
  );
}

/** etcd pkg/flags FlagToEnv: "ETCD" + "_" + upper-case name with '-' → '_'. */
export function flagToEnv(prefix: string, name: string): string {
  return `${prefix}_${name.toUpperCase().replace(/-/g, '_')}`;
}

/**
 * Parses an `etcd` command line (argv without the program name) and environment.
 * Never throws for bad input: the outcome says what to print and how to exit.
 * `preamble` is stderr text etcd prints before anything else (capnslog warnings about
 * ignored flags and environment variables, deprecation notices).
 */
export function parseEtcdConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, opts: ParseOptions = {}): ParsedConfig {
  const now = opts.now ?? Date.now;
  let preamble = '';
  const capns = (level: 'C' | 'E' | 'W' | 'N' | 'I', pkg: string, text: string) => {
    preamble += capnslogLine(level, pkg, text, now());
  };
  const f = new EtcdFlags((pkg, text) => capns('W', pkg, text));

  try {
    f.fs.parse(argv);
  } catch (e) {
    if (e instanceof FlagHelpRequested) return { kind: 'exit', code: 0, stdout: flagsline + '\n', stderr: usageline + '\n', preamble };
    if (e instanceof FlagParseError) return { kind: 'exit', code: 2, stdout: '', stderr: `${e.message}\n${usageline}\n`, preamble };
    throw e;
  }
  if (f.fs.args().length !== 0) {
    return { kind: 'invalid', error: new Error(`'${f.fs.args()[0]}' is not a valid flag`), zapReady: false, preamble };
  }
  if (f.bool('version')) return { kind: 'exit', code: 0, stdout: versionText(opts), stderr: '', preamble };

  let configFile = f.str('config-file');
  if (configFile === '') configFile = env[flagToEnv('ETCD', 'config-file')] ?? '';

  const g = new GoConfig(f);
  try {
    if (configFile !== '') {
      // etcd logs this after loading; with the file's errors its logger is never set up
      let r: string | undefined;
      try {
        r = g.fromFile(configFile);
      } finally {
        // etcd logs this after loading the file (not when it exits while loading)
        if (!r) capns('I', 'etcdmain', `Loading server configuration from ${goQuote(configFile)}. Other configuration command line flags and environment variables will be ignored if provided.`);
      }
      if (r) return { kind: 'exit', code: 1, stdout: '', stderr: r, preamble };
    } else {
      const fatal = setFlagsFromEnv(f, env, capns);
      if (fatal) return { kind: 'exit', code: 1, stdout: '', stderr: '', preamble };
      g.fromCmdLine();
    }
  } catch (e) {
    return { kind: 'invalid', error: e as Error, zapReady: false, preamble };
  }

  // embed.Config.Validate: log setup first
  try {
    g.setupLogging((text) => (preamble += text));
  } catch (e) {
    if ((e as Error).message.startsWith('unknown level')) {
      return { kind: 'exit', code: 2, stdout: '', stderr: `panic: ${(e as Error).message}\n`, preamble };
    }
    return { kind: 'invalid', error: e as Error, zapReady: false, preamble };
  }
  const zapReady = g.logger === 'zap' && configFile === '';
  try {
    g.validate();
  } catch (e) {
    return { kind: 'invalid', error: e as Error, zapReady, preamble };
  }
  const dataDirDefaulted = g.dataDir === '';
  g.applyEtcdmainDefaults();
  let config: EmbedConfig;
  try {
    config = g.toEmbedConfig();
  } catch (e) {
    return { kind: 'invalid', error: e as Error, zapReady, preamble };
  }
  try {
    g.checkSupported();
  } catch (e) {
    return { kind: 'invalid', error: e as Error, zapReady, config, preamble };
  }
  return { kind: 'ok', config, preamble, configFile, unsupported: g.unsupported(), dataDirDefaulted };
}

/**
 * etcd pkg/flags SetFlagsFromEnv + verifyEnv. Returns true when etcd would exit
 * (a variable shadowed by a command-line flag: capnslog "C" line, exit 1).
 * @throws Error(`invalid value "x" for ETCD_Y: <why>`) for a bad value.
 */
function setFlagsFromEnv(f: EtcdFlags, env: Readonly<Record<string, string | undefined>>, capns: (l: 'C' | 'W' | 'I', pkg: string, t: string) => void): boolean {
  const alreadySet = new Set(f.fs.setFlags().map((n) => flagToEnv('ETCD', n)));
  const used = new Set<string>();
  let err: Error | undefined;
  for (const def of f.fs.all()) {
    const key = flagToEnv('ETCD', def.name);
    if (alreadySet.has(key)) continue;
    const val = env[key];
    if (val === undefined || val === '') continue;
    used.add(key);
    try {
      f.fs.set(def.name, val);
      capns('I', 'pkg/flags', `recognized and used environment variable ${key}=${val}`);
    } catch (e) {
      err = new Error(`invalid value ${goQuote(val)} for ${key}: ${(e as Error).message}`);
    }
  }
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || used.has(k)) continue;
    if (alreadySet.has(k)) {
      capns('C', 'pkg/flags', `conflicting environment variable ${goQuote(k)} is shadowed by corresponding command-line flag (either unset environment variable or disable flag)`);
      return true;
    }
    if (k.startsWith('ETCD_')) capns('W', 'pkg/flags', `unrecognized environment variable ${k}=${v}`);
  }
  if (err) throw err;
  return false;
}

/** The Go-side configuration being assembled (embed.Config + etcdmain configProxy), before EmbedConfig. */
class GoConfig {
  name = DEFAULT_NAME;
  dataDir = '';
  walDir = '';
  lpUrls: GoUrl[] = [];
  lcUrls: GoUrl[] | null = [];
  apUrls: GoUrl[] = [];
  acUrls: GoUrl[] | null = [];
  metricsUrls: GoUrl[] = [];
  initialCluster = '';
  defaultInitialCluster = '';
  clusterState = 'new';
  token = 'etcd-cluster';
  durl = '';
  dnsCluster = '';
  dnsClusterServiceName = '';
  proxy = 'off';
  fallback = 'proxy';
  logger = 'capnslog';
  logLevel = 'info';
  logOutputs: string[] = ['default'];
  deprecatedLogOutput: string[] = ['default'];
  debug = false;
  logPkgLevels = '';
  n: Record<string, number> = {};
  b: Record<string, boolean> = {};
  s: Record<string, string> = {};
  clientTls: { [k in keyof TlsConfig]: TlsConfig[k] } & { allowedHostname: string } = emptyTls();
  peerTls: { [k in keyof TlsConfig]: TlsConfig[k] } & { allowedHostname: string } = emptyTls();
  /** flags (or YAML keys) given, for "accepted without effect" warnings */
  private given = new Set<string>();

  constructor(private readonly f: EtcdFlags) {}

  /** Loads every value from the flag set (after env variables were applied). */
  fromCmdLine(f: EtcdFlags = this.f): void {
    for (const n of f.fs.setFlags()) this.given.add(n);
    this.name = f.str('name');
    this.dataDir = f.str('data-dir');
    this.walDir = f.str('wal-dir');
    this.lpUrls = f.urls('listen-peer-urls');
    this.apUrls = f.urls('initial-advertise-peer-urls');
    this.lcUrls = f.urls('listen-client-urls');
    this.acUrls = f.urls('advertise-client-urls');
    this.metricsUrls = f.urls('listen-metrics-urls');
    this.defaultInitialCluster = `${DEFAULT_NAME}=${DEFAULT_INITIAL_ADVERTISE_PEER_URLS}`;
    this.initialCluster = f.str('initial-cluster');
    this.clusterState = f.sel('initial-cluster-state');
    this.token = f.str('initial-cluster-token');
    this.durl = f.str('discovery');
    this.dnsCluster = f.str('discovery-srv');
    this.dnsClusterServiceName = f.str('discovery-srv-name');
    this.proxy = f.sel('proxy');
    this.fallback = f.sel('discovery-fallback');
    this.logger = f.str('logger');
    this.logLevel = f.str('log-level');
    this.logOutputs = f.strs('log-outputs');
    this.deprecatedLogOutput = f.strs('log-output');
    this.debug = f.bool('debug');
    this.logPkgLevels = f.str('log-package-levels');
    for (const [k, v] of Object.entries(f.v)) {
      if (v instanceof UintValue || v instanceof IntValue || v instanceof Uint32Value) this.n[k] = v.value;
      else if (v instanceof DurationValue) this.n[k] = v.ns;
      else if (v instanceof BoolValue) this.b[k] = v.value;
      else if (v instanceof StringValue) this.s[k] = v.value;
    }
    this.clientTls = {
      certFile: f.str('cert-file'), keyFile: f.str('key-file'), trustedCaFile: f.str('trusted-ca-file'),
      clientCertAuth: f.bool('client-cert-auth'), autoTls: f.bool('auto-tls'), crlFile: f.str('client-crl-file'),
      allowedCn: '', allowedHostname: f.str('client-cert-allowed-hostname'),
    };
    this.peerTls = {
      certFile: f.str('peer-cert-file'), keyFile: f.str('peer-key-file'), trustedCaFile: f.str('peer-trusted-ca-file'),
      clientCertAuth: f.bool('peer-client-cert-auth'), autoTls: f.bool('peer-auto-tls'), crlFile: f.str('peer-crl-file'),
      allowedCn: f.str('peer-cert-allowed-cn'), allowedHostname: f.str('peer-cert-allowed-hostname'),
    };
    // disable the default advertise-client-urls if listen-client-urls is set
    const missingAC = f.fs.isSet('listen-client-urls') && !f.fs.isSet('advertise-client-urls');
    if (!this.mayBeProxy() && missingAC) this.acUrls = null;
    // disable the default initial-cluster if discovery is set
    if ((this.durl !== '' || this.dnsCluster !== '' || this.dnsClusterServiceName !== '') && !f.fs.isSet('initial-cluster')) this.initialCluster = '';
  }

  /**
   * embed configYAML.configFromFile + etcdmain configFromFile: starts from the defaults,
   * applies the YAML keys. Returns stderr text when etcd exits 1 without logging
   * (bad URL lists: "unexpected error setting up ..."); throws Error for read/YAML/type errors.
   */
  fromFile(path: string): string | undefined {
    // defaults: a fresh flag set, unparsed
    const fresh = new EtcdFlags(() => {});
    this.fromCmdLine(fresh);
    this.acUrls = fresh.urls('advertise-client-urls');
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new Error(goPathError('open', path, e));
    }
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch (e) {
      throw new Error(`error converting YAML to JSON: yaml: ${(e as Error).message.split('\n')[0]}`);
    }
    if (doc === null || doc === undefined) return undefined;
    if (typeof doc !== 'object' || Array.isArray(doc)) {
      throw new Error(`error unmarshaling JSON: while decoding JSON: json: cannot unmarshal ${jsonType(doc)} into Go value of type embed.configYAML`);
    }
    const y = doc as Record<string, unknown>;
    const want = (key: string, t: 'string' | 'number' | 'bool' | 'strings', goType: string): unknown => {
      const v = y[key];
      if (v === undefined || v === null) return undefined;
      const ok = t === 'string' ? typeof v === 'string' : t === 'number' ? typeof v === 'number' : t === 'bool' ? typeof v === 'boolean' : Array.isArray(v) && v.every((x) => typeof x === 'string');
      if (!ok) throw new Error(`error unmarshaling JSON: while decoding JSON: json: cannot unmarshal ${jsonType(v)} into Go struct field configYAML.${key} of type ${goType}`);
      this.given.add(key);
      return v;
    };
    for (const [k, v] of Object.entries(fresh.v)) {
      if (['config-file', 'version', 'initial-cluster-state', 'proxy', 'discovery-fallback', 'log-outputs', 'log-output', 'cipher-suites', 'max-concurrent-streams'].includes(k)) continue;
      if (v instanceof UniqueUrlsValue || v instanceof UniqueStringsValue || v instanceof IgnoredFlagValue) continue;
      if (v instanceof UintValue) {
        const x = want(k, 'number', ['snapshot-count'].includes(k) ? 'uint64' : 'uint') as number | undefined;
        if (x !== undefined) this.n[k] = x;
      } else if (v instanceof IntValue) {
        const x = want(k, 'number', k === 'quota-backend-bytes' ? 'int64' : 'int') as number | undefined;
        if (x !== undefined) this.n[k] = x;
      } else if (v instanceof DurationValue) {
        const x = want(k, 'number', 'time.Duration') as number | undefined;
        if (x !== undefined) this.n[k] = x;
      } else if (v instanceof BoolValue) {
        const x = want(k, 'bool', 'bool') as boolean | undefined;
        if (x !== undefined) this.b[k] = x;
      } else if (v instanceof StringValue) {
        const x = want(k, 'string', 'string') as string | undefined;
        if (x !== undefined) this.s[k] = x;
      }
    }
    const mcs = want('max-concurrent-streams', 'number', 'uint32') as number | undefined;
    if (mcs !== undefined) this.n['max-concurrent-streams'] = mcs;
    const s = this.s;
    this.name = s['name'];
    this.dataDir = s['data-dir'];
    this.walDir = s['wal-dir'];
    this.initialCluster = s['initial-cluster'];
    this.token = s['initial-cluster-token'];
    this.durl = s['discovery'];
    this.dnsCluster = s['discovery-srv'];
    this.dnsClusterServiceName = s['discovery-srv-name'];
    this.logger = s['logger'];
    this.logLevel = s['log-level'];
    this.logPkgLevels = s['log-package-levels'];
    this.debug = this.b['debug'];
    const cs = want('initial-cluster-state', 'string', 'string') as string | undefined;
    this.clusterState = cs === undefined || cs === '' ? 'new' : cs;
    const lo = want('log-outputs', 'strings', '[]string') as string[] | undefined;
    if (lo !== undefined) this.logOutputs = lo;
    const dlo = want('log-output', 'strings', '[]string') as string[] | undefined;
    if (dlo !== undefined) this.deprecatedLogOutput = dlo;
    want('cipher-suites', 'strings', '[]string');
    const proxy = want('proxy', 'string', 'string') as string | undefined;
    if (proxy) {
      if (!['off', 'readonly', 'on'].includes(proxy)) return `unexpected error setting up proxyFlag: invalid value\n`;
      this.proxy = proxy;
    }
    const fb = want('discovery-fallback', 'string', 'string') as string | undefined;
    if (fb) {
      if (!['proxy', 'exit'].includes(fb)) return `unexpected error setting up discovery-fallback flag: invalid value\n`;
      this.fallback = fb;
    }
    const urlKeys: [string, string, (u: GoUrl[]) => void][] = [
      ['listen-peer-urls', 'listen-peer-urls', (u) => (this.lpUrls = u)],
      ['listen-client-urls', 'listen-client-urls', (u) => (this.lcUrls = u)],
      ['initial-advertise-peer-urls', 'initial-advertise-peer-urls', (u) => (this.apUrls = u)],
      ['advertise-client-urls', 'advertise-peer-urls', (u) => (this.acUrls = u)],
      ['listen-metrics-urls', 'listen-metrics-urls', (u) => (this.metricsUrls = u)],
    ];
    for (const [key, label, setter] of urlKeys) {
      const v = want(key, 'string', 'string') as string | undefined;
      if (v === undefined || v === '') continue;
      try {
        setter(newUrls(v.split(',')));
      } catch (e) {
        return `unexpected error setting up ${label}: ${(e as Error).message}\n`;
      }
    }
    want('cors', 'string', 'string');
    want('host-whitelist', 'string', 'string');
    if ((this.durl !== '' || this.dnsCluster !== '') && this.initialCluster === this.defaultInitialCluster) this.initialCluster = '';
    const sec = (key: string): Partial<TlsConfig> => {
      const v = y[key];
      if (v === undefined || v === null) return {};
      if (typeof v !== 'object' || Array.isArray(v)) throw new Error(`error unmarshaling JSON: while decoding JSON: json: cannot unmarshal ${jsonType(v)} into Go struct field configYAML.${key} of type embed.securityConfig`);
      this.given.add(key);
      const o = v as Record<string, unknown>;
      const str = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : '');
      return { certFile: str('cert-file'), keyFile: str('key-file'), trustedCaFile: str('trusted-ca-file'), clientCertAuth: o['client-cert-auth'] === true, autoTls: o['auto-tls'] === true, crlFile: str('crl-file') };
    };
    this.clientTls = { ...emptyTls(), ...sec('client-transport-security') };
    this.peerTls = { ...emptyTls(), ...sec('peer-transport-security') };
    return undefined;
  }

  mayBeProxy(): boolean {
    return this.proxy !== 'off' || (this.durl !== '' && this.fallback === 'proxy');
  }

  /** embed setupLogging's checks; its stderr notices go to `emit` as they happen. Throws Error with etcd's text. */
  setupLogging(emit: (text: string) => void): void {
    const out = { add: emit };
    const l1 = this.deprecatedLogOutput.length;
    const l2 = this.logOutputs.length;
    if (l1 !== l2) {
      if (l1 > l2) {
        out.add("'--log-output' flag has been deprecated! Please use '--log-outputs'!\n");
        this.logOutputs = this.deprecatedLogOutput;
      }
    } else {
      if (l1 > 1) throw new Error("both '--log-output' and '--log-outputs' are set; only set '--log-outputs'");
      if (l1 < 1) throw new Error("either '--log-output' or '--log-outputs' flag must be set");
      const same = this.deprecatedLogOutput.join('\0') === this.logOutputs.join('\0');
      if (same && this.deprecatedLogOutput[0] !== 'default') {
        throw new Error(`'--log-output=${goStrSlice(this.deprecatedLogOutput)}' and '--log-outputs=${goStrSlice(this.logOutputs)}' are incompatible; only set --log-outputs`);
      }
      if (!(this.deprecatedLogOutput.length === 1 && this.deprecatedLogOutput[0] === 'default')) {
        out.add(`[WARNING] Deprecated '--log-output' flag is set to ${goStrSlice(this.deprecatedLogOutput)}\nPlease use '--log-outputs' flag\n`);
        this.logOutputs = this.deprecatedLogOutput;
      }
    }
    if (this.debug) out.add(`[WARNING] Deprecated '--debug' flag is set to true (use '--log-level=debug' instead\n`);
    if (this.debug && this.logLevel !== 'debug') out.add(`[WARNING] Deprecated '--debug' flag is set to true with inconsistent '--log-level=${this.logLevel}' flag\n`);
    if (this.logger === 'capnslog') out.add(`[WARNING] Deprecated '--logger=capnslog' flag is set; use '--logger=zap' flag instead\n`);
    if (this.logPkgLevels !== '') out.add(`[WARNING] Deprecated '--log-package-levels=${this.logPkgLevels}' flag is set; use '--logger=zap' flag instead\n`);
    const levelOk = ['debug', 'info', 'warn', 'error', 'dpanic', 'panic', 'fatal'].includes(this.logLevel);
    if (this.logger === 'capnslog') {
      if (!this.debug && !levelOk) throw new Error(`unknown level ${goQuote(this.logLevel)}`);
      if (this.logOutputs.length !== 1) throw new Error(`--logger=capnslog supports only 1 value in '--log-outputs', got ${goStrSlice(this.logOutputs)}`);
      const o = this.logOutputs[0];
      if (!['stderr', 'stdout', 'default'].includes(o)) throw new Error(`unknown log-output ${goQuote(o)} (only supports "default", "stderr", "stdout")`);
    } else if (this.logger === 'zap') {
      if (this.logOutputs.length === 0) this.logOutputs = ['default'];
      if (this.logOutputs.length > 1 && this.logOutputs.includes('default')) throw new Error(`multi logoutput for "default" is not supported yet`);
      if (this.debug) this.logLevel = 'debug';
      if (!levelOk) throw new Error(`unknown level ${goQuote(this.logLevel)}`);
    } else {
      throw new Error(`unknown logger option ${goQuote(this.logger)}`);
    }
  }

  /** embed.Config.Validate after logging (etcd's order of checks). Throws Error with etcd's text. */
  validate(): void {
    checkBindUrls(this.lpUrls);
    checkBindUrls(this.lcUrls ?? []);
    checkBindUrls(this.metricsUrls);
    try {
      checkHostUrls(this.apUrls);
    } catch (e) {
      throw new Error(`--initial-advertise-peer-urls ${goQuote(this.apUrls.map(goUrlString).join(','))} must be "host:port" (${(e as Error).message})`);
    }
    try {
      checkHostUrls(this.acUrls ?? []);
    } catch (e) {
      throw new Error(`--advertise-client-urls ${goQuote((this.acUrls ?? []).map(goUrlString).join(','))} must be "host:port" (${(e as Error).message})`);
    }
    const nSet = [this.durl !== '', this.initialCluster !== '', this.dnsCluster !== ''].filter(Boolean).length;
    if (this.clusterState !== 'new' && this.clusterState !== 'existing') throw new Error(`unexpected clusterState ${goQuote(this.clusterState)}`);
    if (nSet > 1) throw new Error('multiple discovery or bootstrap flags are set. Choose one of "initial-cluster", "discovery" or "discovery-srv"');
    const tick = this.n['heartbeat-interval'];
    const election = this.n['election-timeout'];
    if (tick <= 0) throw new Error(`--heartbeat-interval must be >0 (set to ${tick}ms)`);
    if (election <= 0) throw new Error(`--election-timeout must be >0 (set to ${election}ms)`);
    if (5 * tick > election) throw new Error(`--election-timeout[${election}ms] should be at least as 5 times as --heartbeat-interval[${tick}ms]`);
    if (election > MAX_ELECTION_MS) throw new Error(`--election-timeout[${election}ms] is too long, and should be set less than ${MAX_ELECTION_MS}ms`);
    if (this.lcUrls !== null && this.acUrls === null && !this.mayBeProxy()) throw new Error(ERR_UNSET_ADVERTISE_CLIENT_URLS);
    const mode = this.s['auto-compaction-mode'];
    if (mode !== '' && mode !== 'periodic' && mode !== 'revision') throw new Error(`unknown auto-compaction-mode ${goQuote(mode)}`);
    if (this.b['experimental-enable-lease-checkpoint-persist'] && !this.b['experimental-enable-lease-checkpoint']) {
      throw new Error('setting experimental-enable-lease-checkpoint-persist requires experimental-enable-lease-checkpoint');
    }
  }

  /**
   * What etcdmain startEtcdOrProxyV2 does before starting: initial-cluster from the name
   * when only --name was changed (UpdateDefaultClusterFromName, without default-host
   * detection) and data dir `<name>.etcd` when empty.
   */
  applyEtcdmainDefaults(): void {
    if (this.name !== DEFAULT_NAME && this.initialCluster === this.defaultInitialCluster) {
      this.initialCluster = initialClusterFromName(this.name, this.apUrls);
    }
    if (this.dataDir === '') this.dataDir = `${this.name}.etcd`;
  }

  /** Rejects what this server cannot do (see REJECTED_VALUES). Throws Error. */
  checkSupported(): void {
    if (this.proxy !== 'off') throw new Error(`--proxy=${this.proxy} is not supported by this etcd (v2 proxy)`);
    if (this.s['experimental-enable-v2v3'] !== '') throw new Error('--experimental-enable-v2v3 is not supported by this etcd');
  }

  /** Flags/keys given that this server accepts but does not act on. */
  unsupported(): string[] {
    return (ACCEPTED_WITHOUT_EFFECT as readonly string[]).filter((k) => this.given.has(k));
  }

  toEmbedConfig(): EmbedConfig {
    const n = this.n;
    const ms = (k: string) => n[k] / 1e6;
    const initialCluster = new Map<string, readonly string[]>();
    if (this.initialCluster !== '') for (const [k, v] of newUrlsMap(this.initialCluster)) initialCluster.set(k, v);
    // etcd PeerURLsMapAndToken: with --discovery a temporary cluster of this member alone, the URL as token
    if (this.durl !== '') {
      initialCluster.clear();
      initialCluster.set(this.name, this.apUrls.map(goUrlString));
    }
    return {
      name: this.name,
      dataDir: this.dataDir,
      walDir: this.walDir,
      listenClientUrls: (this.lcUrls ?? []).map(toWhatwgUrl),
      advertiseClientUrls: (this.acUrls ?? []).map(toWhatwgUrl),
      listenPeerUrls: this.lpUrls.map(toWhatwgUrl),
      initialAdvertisePeerUrls: this.apUrls.map(toWhatwgUrl),
      listenMetricsUrls: this.metricsUrls.map(toWhatwgUrl),
      initialCluster,
      initialClusterState: this.clusterState as 'new' | 'existing',
      initialClusterToken: this.durl !== '' ? this.durl : this.token,
      discovery: { url: this.durl, proxy: this.s['discovery-proxy'] ?? '', fallback: this.fallback, srv: this.dnsCluster, srvName: this.dnsClusterServiceName },
      snapshotCount: n['snapshot-count'],
      maxSnapFiles: n['max-snapshots'],
      maxWalFiles: n['max-wals'],
      heartbeatMs: n['heartbeat-interval'],
      electionMs: n['election-timeout'],
      quotaBackendBytes: n['quota-backend-bytes'],
      backendBatchIntervalMs: ms('backend-batch-interval'),
      backendBatchLimit: n['backend-batch-limit'],
      maxRequestBytes: n['max-request-bytes'],
      maxTxnOps: n['max-txn-ops'],
      autoCompactionMode: (this.s['auto-compaction-mode'] || 'periodic') as 'periodic' | 'revision',
      autoCompactionRetention: this.s['auto-compaction-retention'],
      strictReconfigCheck: this.b['strict-reconfig-check'],
      preVote: this.b['pre-vote'],
      enableV2: this.b['enable-v2'],
      clientTls: tlsOf(this.clientTls),
      peerTls: tlsOf(this.peerTls),
      authToken: this.s['auth-token'],
      bcryptCost: n['bcrypt-cost'],
      log: { logger: this.logger, level: this.logLevel, outputs: [...this.logOutputs] },
      forceNewCluster: this.b['force-new-cluster'],
      experimentalWatchProgressNotifyIntervalMs: ms('experimental-watch-progress-notify-interval'),
      initialElectionTickAdvance: this.b['initial-election-tick-advance'],
      maxConcurrentStreams: n['max-concurrent-streams'],
      grpcKeepAliveMinTimeMs: ms('grpc-keepalive-min-time'),
      grpcKeepAliveIntervalMs: ms('grpc-keepalive-interval'),
      grpcKeepAliveTimeoutMs: ms('grpc-keepalive-timeout'),
      authTokenTtlSec: n['auth-token-ttl'],
      unsafeNoFsync: this.b['unsafe-no-fsync'],
      experimentalEnableLeaseCheckpoint: this.b['experimental-enable-lease-checkpoint'],
      experimentalCompactionBatchLimit: n['experimental-compaction-batch-limit'],
      experimentalWarningApplyDurationMs: ms('experimental-warning-apply-duration'),
      experimentalInitialCorruptCheck: this.b['experimental-initial-corrupt-check'],
      experimentalCorruptCheckTimeMs: ms('experimental-corrupt-check-time'),
      enableGrpcGateway: this.b['enable-grpc-gateway'],
    };
  }
}

function emptyTls() {
  return { certFile: '', keyFile: '', trustedCaFile: '', clientCertAuth: false, autoTls: false, crlFile: '', allowedCn: '', allowedHostname: '' };
}

function tlsOf(t: TlsConfig): TlsConfig {
  return { certFile: t.certFile, keyFile: t.keyFile, trustedCaFile: t.trustedCaFile, clientCertAuth: t.clientCertAuth, autoTls: t.autoTls, crlFile: t.crlFile, allowedCn: t.allowedCn, allowedHostname: t.allowedHostname ?? '' };
}

function jsonType(v: unknown): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return 'array';
  return 'object';
}

/** Go's %q of a []string: ["a" "b"]. */
function goStrSlice(a: readonly string[]): string {
  return `[${a.map(goQuote).join(' ')}]`;
}

/** embed checkBindURLs: listen URLs need an IP or "localhost" (unix sockets excepted). */
function checkBindUrls(urls: readonly GoUrl[]): void {
  for (const u of urls) {
    if (u.scheme === 'unix' || u.scheme === 'unixs') continue;
    const [host] = splitHostPort(u.host);
    if (host === 'localhost') continue;
    if (isIP(host) === 0) throw new Error(`expected IP in URL for binding (${goUrlString(u)})`);
  }
}

/** embed checkHostURLs: advertised URLs need a non-empty host. */
function checkHostUrls(urls: readonly GoUrl[]): void {
  for (const u of urls) {
    const [host] = splitHostPort(u.host);
    if (host === '') throw new Error(`unexpected empty host (${goUrlString(u)})`);
  }
}

/** embed InitialClusterFromName: "<name>=<apurl>,..." ("default" for an empty name). */
export function initialClusterFromName(name: string, apUrls: readonly GoUrl[]): string {
  const n = name === '' ? DEFAULT_NAME : name;
  return apUrls.map((u) => `${n}=${goUrlString(u)}`).join(',');
}

/** Go time.Duration text of a ms value, for logs ("100ms", "1s"). */
export function durationText(ms: number): string {
  return formatGoDuration(ms * 1e6);
}

/**
 * etcdserver ServerConfig.VerifyBootstrap (etcdserver/config.go) for a member bootstrapping
 * a new cluster: its name is in --initial-cluster and its URLs there are exactly
 * --initial-advertise-peer-urls (compared as strings; etcd also resolves host names, we
 * compare "localhost" and 127.0.0.1 literally), no URL appears twice.
 * @throws Error with etcd's message.
 */
export function verifyBootstrap(cfg: EmbedConfig): void {
  const mine = cfg.initialCluster.get(cfg.name);
  if (!mine) throw new Error(`couldn't find local name ${goQuote(cfg.name)} in the initial cluster configuration`);
  const ap = cfg.initialAdvertisePeerUrls.map(whatwgToGoString).sort();
  const init = [...mine].sort();
  if (ap.join(',') !== init.join(',')) {
    const missing = init.filter((u) => !ap.includes(u));
    if (missing.length > 0) {
      const why = ap.length !== init.length ? `len(${goStrSlice(ap)}) != len(${goStrSlice(init)})` : `resolved urls: ${goQuote(ap.find((u) => !init.includes(u)) ?? ap[0])} != ${goQuote(missing[0])}`;
      throw new Error(`--initial-cluster has ${missing.map((u) => `${cfg.name}=${u}`).join(',')} but missing from --initial-advertise-peer-urls=${ap.join(',')} (${why})`);
    }
    const extra = ap.filter((u) => !init.includes(u));
    throw new Error(`--initial-advertise-peer-urls has ${extra.join(',')} but missing from --initial-cluster=${ap.map((u) => `${cfg.name}=${u}`).sort().join(',')}`);
  }
  const all = [...cfg.initialCluster.values()].flat();
  if (new Set(all).size !== all.length) {
    const pairs = [...cfg.initialCluster].flatMap(([k, us]) => us.map((u) => `${k}=${u}`)).sort().join(',');
    throw new Error(`initial cluster ${pairs} has duplicate url`);
  }
}

/** A WHATWG URL of a checked etcd URL back in Go's string form ("http://h:1", no trailing "/"). */
export function whatwgToGoString(u: URL): string {
  return `${u.protocol}//${u.username ? `${u.username}${u.password ? ':' + u.password : ''}@` : ''}${u.host}${u.search}${u.hash}`;
}

/**
 * {@link verifyBootstrap} with etcd's netutil.URLStringsEqual: when this member's URLs
 * in the initial cluster differ from --initial-advertise-peer-urls as strings (e.g. SRV
 * targets `https://m1.example.test:2380` for an advertised `https://127.0.0.1:2380`),
 * both lists are resolved to TCP addresses (Go ResolveTCPAddr: util/dns-srv.ts) and
 * compared again.
 * @throws Error with etcd's message (verifyBootstrap's) when they still differ or a URL is duplicated
 */
export async function verifyBootstrapResolved(cfg: EmbedConfig): Promise<void> {
  try {
    verifyBootstrap(cfg);
  } catch (e) {
    const mine = cfg.initialCluster.get(cfg.name);
    const ap = cfg.initialAdvertisePeerUrls.map(whatwgToGoString);
    if (!mine || mine.length !== ap.length) throw e;
    const resolved = async (urls: readonly string[]): Promise<string> => {
      const out: string[] = [];
      for (const s of urls) {
        const u = new URL(s);
        try {
          out.push(`${u.protocol}//${await resolveTcpAddr(u.host)}`);
        } catch {
          throw e;
        }
      }
      return out.sort().join(',');
    };
    if ((await resolved(mine)) !== (await resolved(ap))) throw e;
    const same = new Map(cfg.initialCluster);
    same.set(cfg.name, ap);
    verifyBootstrap({ ...cfg, initialCluster: same });
  }
}
