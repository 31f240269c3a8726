/**
 * @module cli/global-flags
 * etcdctl's persistent (global) flags, their ETCDCTL_* environment forms, and the
 * client configuration derived from them (etcdctl/ctlv3/ctl.go and command/global.go).
 */

import { CliError, ExitBadArgs } from './exit-codes.js';
import type { FlagSpec, FlagValues } from './flags.js';
import { GoParseError } from './go-format.js';

const SECOND = 1e9;

/** The root command's persistent flags, with etcdctl 3.4's names, defaults and help texts. */
export const GLOBAL_FLAGS: FlagSpec[] = [
  { name: 'endpoints', type: 'stringSlice', default: ['127.0.0.1:2379'], usage: 'gRPC endpoints' },
  { name: 'debug', type: 'bool', default: false, usage: 'enable client-side debug logging' },
  { name: 'write-out', short: 'w', type: 'string', default: 'simple', usage: 'set the output format (fields, json, protobuf, simple, table)' },
  { name: 'hex', type: 'bool', default: false, usage: 'print byte strings as hex encoded strings' },
  { name: 'dial-timeout', type: 'duration', default: 2 * SECOND, usage: 'dial timeout for client connections' },
  { name: 'command-timeout', type: 'duration', default: 5 * SECOND, usage: 'timeout for short running command (excluding dial timeout)' },
  { name: 'keepalive-time', type: 'duration', default: 2 * SECOND, usage: 'keepalive time for client connections' },
  { name: 'keepalive-timeout', type: 'duration', default: 6 * SECOND, usage: 'keepalive timeout for client connections' },
  { name: 'insecure-transport', type: 'bool', default: true, usage: 'disable transport security for client connections' },
  { name: 'insecure-discovery', type: 'bool', default: true, usage: 'accept insecure SRV records describing cluster endpoints' },
  { name: 'insecure-skip-tls-verify', type: 'bool', default: false, usage: 'skip server certificate verification (CAUTION: this option should be enabled only for testing purposes)' },
  { name: 'cert', type: 'string', default: '', usage: 'identify secure client using this TLS certificate file' },
  { name: 'key', type: 'string', default: '', usage: 'identify secure client using this TLS key file' },
  { name: 'cacert', type: 'string', default: '', usage: 'verify certificates of TLS-enabled secure servers using this CA bundle' },
  { name: 'user', type: 'string', default: '', usage: 'username[:password] for authentication (prompt if password is not supplied)' },
  { name: 'password', type: 'string', default: '', usage: "password for authentication (if this option is used, --user option shouldn't include password)" },
  { name: 'discovery-srv', short: 'd', type: 'string', default: '', usage: 'domain name to query for SRV records describing cluster endpoints' },
  { name: 'discovery-srv-name', type: 'string', default: '', usage: 'service name to query when using DNS discovery' },
];

/** Client-relevant options after flags and ETCDCTL_* env are merged. Durations in ms. */
export interface GlobalOptions {
  endpoints: string[];
  debug: boolean;
  writeOut: string;
  hex: boolean;
  dialTimeoutMs: number;
  commandTimeoutMs: number;
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  insecureTransport: boolean;
  insecureDiscovery: boolean;
  insecureSkipTlsVerify: boolean;
  cert: string;
  key: string;
  cacert: string;
  user: string;
  password: string;
  discoverySrv: string;
  discoverySrvName: string;
}

/** `ETCDCTL_` + upper-cased flag name with `-` → `_` (pkg/flags FlagToEnv). */
export function flagToEnv(name: string): string {
  return 'ETCDCTL_' + name.toUpperCase().replace(/-/g, '_');
}

/** A Go capnslog line as etcdctl 3.4's pkg/flags prints it: `2006-01-02 15:04:05.000000 C | pkg/flags: ...`. */
function capnslogLine(level: string, msg: string): string {
  const d = new Date();
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const ts = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds() * 1000, 6)}`;
  return `${ts} ${level} | pkg/flags: ${msg}\n`;
}

/** Raised when an ETCDCTL_* variable and its flag are both set (fatal in etcdctl, exit 1). */
export class EnvConflictError extends Error {
  constructor(readonly line: string) {
    super(line);
  }
}

/**
 * Applies ETCDCTL_* variables to the global flags that were not set on the command line,
 * as pkg/flags SetPflagsFromEnv does: invalid values are ignored silently, unknown
 * ETCDCTL_* variables produce a warning on stderr, and a variable whose flag was also
 * given on the command line is fatal.
 * @param extraKnown extra variable names that are accepted without warning
 *   (`watch` adds ETCDCTL_WATCH_KEY and ETCDCTL_WATCH_RANGE_END)
 * @throws EnvConflictError with the capnslog line to print (exit 1)
 */
export function applyEnv(
  values: FlagValues,
  env: NodeJS.ProcessEnv,
  warn: (s: string) => void,
  extraKnown: readonly string[] = [],
): void {
  const used = new Set<string>();
  const alreadySet = new Set<string>();
  for (const f of GLOBAL_FLAGS) {
    const key = flagToEnv(f.name);
    if (values.changed.has(f.name)) {
      alreadySet.add(key);
      continue;
    }
    const v = env[key];
    if (v === undefined || v === '') continue;
    used.add(key);
    try {
      values.setFromString(f.name, v, false);
    } catch (e) {
      if (!(e instanceof GoParseError)) throw e;
    }
  }
  for (const k of extraKnown) if (env[k]) used.add(k);
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith('ETCDCTL_') || used.has(k)) continue;
    if (alreadySet.has(k)) {
      throw new EnvConflictError(
        capnslogLine('C', `conflicting environment variable "${k}" is shadowed by corresponding command-line flag (either unset environment variable or disable flag)`),
      );
    }
    warn(capnslogLine('W', `unrecognized environment variable ${k}=${v}`));
  }
}

/**
 * Reads the global options from parsed flags (env already applied), checking what
 * etcdctl checks before connecting.
 * @throws CliError(ExitBadArgs) `empty string is passed to --cert option` (and --key, --cacert)
 */
export function globalOptionsFrom(values: FlagValues): GlobalOptions {
  for (const name of ['cert', 'key', 'cacert']) {
    if (values.string(name) === '' && values.changed.has(name)) {
      throw new CliError(ExitBadArgs, `empty string is passed to --${name} option`);
    }
  }
  const ms = (n: string) => values.duration(n) / 1e6;
  return {
    endpoints: values.strings('endpoints').map((e) => e.trim()),
    debug: values.bool('debug'),
    writeOut: values.string('write-out'),
    hex: values.bool('hex'),
    dialTimeoutMs: ms('dial-timeout'),
    commandTimeoutMs: ms('command-timeout'),
    keepaliveTimeMs: ms('keepalive-time'),
    keepaliveTimeoutMs: ms('keepalive-timeout'),
    insecureTransport: values.bool('insecure-transport'),
    insecureDiscovery: values.bool('insecure-discovery'),
    insecureSkipTlsVerify: values.bool('insecure-skip-tls-verify'),
    cert: values.string('cert'),
    key: values.string('key'),
    cacert: values.string('cacert'),
    user: values.string('user'),
    password: values.string('password'),
    discoverySrv: values.string('discovery-srv'),
    discoverySrvName: values.string('discovery-srv-name'),
  };
}
