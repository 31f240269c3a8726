// Running etcdctl binaries and comparing a reference side with a side under test.
//
// The reference side is always the real etcdctl against real etcd. The side under
// test (the "subject") depends on the test target (target.ts, ETCDTS_TARGET):
// our etcdctl against the same real etcd servers ('cli', default), or the real
// etcdctl against our server ('serve').
//
// compareCli:   read-only / idempotent cases; in cli mode both binaries against one
//               server, in serve mode against server and server.subject (twins).
// runScenario:  mutating sequences, the reference side against server A and the
//               subject against server B (twin servers with identical IDs),
//               compared step by step.
//
// Compared per command: stdout bytes, the last "Error:" line of stderr, and
// the exit code. (Real etcdctl writes zap JSON warnings to stderr before the
// Error line; those are not compared.)

import assert from 'node:assert';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OUR_CLI, SERVE } from './target.js';

/** Anything with an endpoint: real etcd now, our server later. */
export interface ServerLike {
  /** "host:port" as passed to --endpoints. */
  endpoint: string;
  clientURL?: string;
  /** The server of the side under test, if not this one (serve mode; etcd.ts startComparedEtcd). */
  subject?: ServerLike;
  stop(): Promise<void>;
}

function findRepoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('run.ts: cannot find repo root (package.json)');
    dir = parent;
  }
}

export const REPO_ROOT = findRepoRoot();
/** Our CLI. */
export const OURS = path.join(REPO_ROOT, 'bin', 'etcdctl');
/** The reference etcdctl 3.4.23. */
export const REAL = process.env.REAL_ETCDCTL || '/usr/bin/etcdctl';
/** The etcdctl of the side under test: ours in cli and serve-ours modes, the real one in serve mode. */
export const SUBJECT_BIN = OUR_CLI ? OURS : REAL;
/** Which etcdctl SUBJECT_BIN is. */
export const SUBJECT_CLI: 'real' | 'ours' = OUR_CLI ? 'ours' : 'real';

export interface RunOptions {
  /** Added on top of the cleaned environment (no ETCDCTL_* variables). */
  env?: Record<string, string>;
  /** Written to stdin, then stdin is closed. Without it stdin is closed immediately (EOF). */
  stdin?: string | Buffer;
  /** Default 20000. The process is SIGKILLed on timeout. */
  timeoutMs?: number;
  cwd?: string;
}

export interface RunResult {
  stdout: Buffer;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** Wall-clock ms. */
  durationMs: number;
}

/** process.env without any ETCDCTL_* variable, plus `extra`. */
export function cleanEnv(extra?: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('ETCDCTL_')) env[k] = v;
  }
  delete env.ETCDCTL_API;
  return { ...env, ...(extra ?? {}) };
}

/** Runs `bin args...` directly (no shell). Never rejects because of the child's behaviour. */
export function runCli(bin: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(bin, args, {
      env: cleanEnv(opts.env),
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let spawnError: Error | undefined;
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    // EPIPE if the child exits without reading stdin: not our concern.
    child.stdin.on('error', () => {});
    if (opts.stdin !== undefined) child.stdin.end(opts.stdin);
    else child.stdin.end();

    const timer = setTimeout(() => {
      timedOut = true;
      try { child.kill('SIGKILL'); } catch { /* ignore */ }
    }, timeoutMs);

    child.once('error', (e) => {
      spawnError = e;
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      let stderr = Buffer.concat(err).toString('utf8');
      if (spawnError) stderr += `\n[harness] spawn error: ${spawnError.message}`;
      if (timedOut) stderr += `\n[harness] killed after timeout of ${timeoutMs} ms`;
      resolve({
        stdout: Buffer.concat(out),
        stderr,
        code,
        signal,
        timedOut,
        durationMs: Date.now() - started,
      });
    });
  });
}

/** The last stderr line starting with "Error:" ("" if none). */
export function errorLine(stderr: string): string {
  const lines = stderr.split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    if (lines[i]!.startsWith('Error:')) return lines[i]!;
  }
  return '';
}

// ---------------------------------------------------------------------------
// Normalizers

/** Per-run state shared by all steps of one run (one binary against one server). */
export interface RunContext {
  /** Which side this run is: 'real' = the reference side, 'ours' = the side under test. */
  side: 'real' | 'ours';
  /** Which etcdctl this run uses (in serve mode the side under test uses the real one). */
  cli: 'real' | 'ours';
  server?: ServerLike;
  /** Lease IDs (as bigint) seen so far in this run's outputs, in order of first appearance. */
  leases: bigint[];
  /** Results of previous steps of this run. */
  results: RunResult[];
}

/** Rewrites text (stdout, or the Error: line) before comparison. */
export type Normalizer = (text: string, ctx: RunContext) => string;

/** A fresh context; `cli` defaults to the etcdctl of that side in the current target. */
export function newRunContext(side: 'real' | 'ours', server?: ServerLike, cli?: 'real' | 'ours'): RunContext {
  return { side, cli: cli ?? (side === 'real' ? 'real' : SUBJECT_CLI), server, leases: [], results: [] };
}

const HEX16 = /^[0-9a-f]{16}$/;

/**
 * Records lease IDs that appear in `text` in lease-specific contexts:
 *  - "lease <16 hex digits>" (lease grant / revoke / keep-alive / timetolive)
 *  - a line consisting only of 16 hex digits (lease list)
 *  - "ID":<decimal> / "ID" : <decimal> / "id":<decimal> (lease grant/timetolive/
 *    keep-alive/list in json / fields), except in member outputs (text containing
 *    "members", "PeerURL", "peerURLs" or "Name"), where "ID" is a member ID
 *  - "lease":<decimal> / "Lease" : <decimal> (get -w json / -w fields), except 0
 */
export function learnLeaseIds(text: string, ctx: RunContext): void {
  const add = (id: bigint) => {
    if (id !== 0n && !ctx.leases.includes(id)) ctx.leases.push(id);
  };
  for (const m of text.matchAll(/\blease ([0-9a-f]{16})\b/g)) add(BigInt('0x' + m[1]));
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (HEX16.test(t)) add(BigInt('0x' + t));
  }
  if (!/"members"|"PeerURL"|"peerURLs"|"Name"|"name"/.test(text)) {
    for (const m of text.matchAll(/"(?:ID|id)"\s*:\s*(\d+)/g)) add(BigInt(m[1]!));
  }
  for (const m of text.matchAll(/"[Ll]ease"\s*:\s*(\d+)/g)) add(BigInt(m[1]!));
}

/**
 * Replaces lease IDs (16-digit hex and decimal forms) with <LEASE1>, <LEASE2>, ...
 * numbered in order of first appearance within the run. IDs are learned from
 * lease-specific contexts (see learnLeaseIds) and then replaced everywhere.
 */
export const normalizeLeaseIds: Normalizer = (text, ctx) => {
  learnLeaseIds(text, ctx);
  ctx.leases.forEach((id, i) => {
    const ph = `<LEASE${i + 1}>`;
    const hex = id.toString(16).padStart(16, '0');
    text = text.replace(new RegExp(`\\b${hex}\\b`, 'g'), ph);
    // Unpadded hex too (e.g. %x formatting), if it differs.
    const hexShort = id.toString(16);
    if (hexShort !== hex && hexShort.length >= 12) text = text.replace(new RegExp(`\\b${hexShort}\\b`, 'g'), ph);
    text = text.replace(new RegExp(`(?<![0-9])${id.toString(10)}(?![0-9])`, 'g'), ph);
  });
  return text;
};

const GO_DURATION = '(?:[0-9]+(?:\\.[0-9]+)?(?:ns|us|µs|μs|ms|s|m|h))+';

/** Replaces Go durations after "took" (`took = 1.2ms`, `"took":"850µs"`) with <DURATION>. */
export const normalizeDurations: Normalizer = (text) =>
  text
    .replace(new RegExp(`(\\btook\\s*[=:]?\\s*)${GO_DURATION}`, 'g'), '$1<DURATION>')
    .replace(new RegExp(`("took"\\s*:\\s*")${GO_DURATION}(")`, 'g'), '$1<DURATION>$2');

/**
 * Replaces this run's server endpoint ("127.0.0.1:PORT", also inside URLs)
 * with <ENDPOINT>; useful for endpoint status/health and member list, whose
 * output contains the (different) client ports of twin servers.
 */
export const normalizeEndpoint: Normalizer = (text, ctx) => {
  if (!ctx.server) return text;
  const ep = ctx.server.endpoint.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text.replace(new RegExp(`${ep}(?![0-9])`, 'g'), '<ENDPOINT>');
};

/**
 * Replaces backend sizes in `endpoint status` output with <DBSIZE>: the bbolt
 * file size / in-use size depend on when the backend batch commit happened, so
 * they are not deterministic even between twin servers. Handles -w json
 * ("dbSize":N, "dbSizeInUse":N), -w fields ("DBSize" : N, ...) and the
 * humanized sizes of the simple/table output (e.g. "20 kB").
 */
export const normalizeDbSize: Normalizer = (text) =>
  text
    .replace(/("db_?size(?:_?in_?use)?"\s*:\s*)\d+/gi, '$1<DBSIZE>')
    .replace(/(^|[\s,|])\d+(?:\.\d+)? (?:B|kB|MB|GB|TB)(?=[\s,|]|$)/gm, '$1<DBSIZE>');

/** Composes normalizers left to right. */
export function composeNormalizers(...ns: Array<Normalizer | undefined>): Normalizer {
  return (text, ctx) => ns.reduce((t, n) => (n ? n(t, ctx) : t), text);
}

// ---------------------------------------------------------------------------
// Comparison

/** Bytes as a string: UTF-8 if it round-trips exactly, else latin1 with a marker (still byte exact). */
export function bytesToText(buf: Buffer): string {
  const s = buf.toString('utf8');
  if (Buffer.from(s, 'utf8').equals(buf)) return s;
  return '[non-utf8, latin1] ' + buf.toString('latin1');
}

/**
 * What part of stderr is compared:
 *  - 'errorLine' (default): only the last "Error:" line
 *  - 'nonLog': all stderr lines except zap JSON log lines ({"level":...}); needed for
 *    commands that print results to stderr (e.g. `endpoint health` in table/simple form)
 *  - 'full': the whole stderr
 */
export type StderrMode = 'errorLine' | 'nonLog' | 'full';

/**
 * stderr without the zap JSON log lines that real etcdctl emits (lines starting with
 * {"level":) and without the `Reason: ...` lines ours adds after a failed connection
 * (a deliberate addition; tests that care check them explicitly).
 */
export function stripLogLines(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => !l.startsWith('{"level":') && !l.startsWith('Reason: '))
    .join('\n');
}

export interface Comparable {
  stdout: string;
  /** Per StderrMode: the Error: line, the non-log stderr, or the full stderr. */
  stderr: string;
  code: number | null;
}

function selectStderr(stderr: string, mode: StderrMode): string {
  switch (mode) {
    case 'errorLine': return errorLine(stderr);
    case 'nonLog': return stripLogLines(stderr);
    case 'full': return stderr.split('\n').filter((l) => !l.startsWith('Reason: ')).join('\n');
  }
}

function toComparable(r: RunResult, normalize: Normalizer | undefined, ctx: RunContext, mode: StderrMode): Comparable {
  let stdout = bytesToText(r.stdout);
  let err = selectStderr(r.stderr, mode);
  if (normalize) {
    stdout = normalize(stdout, ctx);
    err = normalize(err, ctx);
  }
  return { stdout, stderr: err, code: r.code };
}

function describe(label: string, r: RunResult): string {
  return [
    `--- ${label}: code=${r.code} signal=${r.signal}${r.timedOut ? ' TIMED OUT' : ''} (${r.durationMs} ms)`,
    `stdout: ${JSON.stringify(bytesToText(r.stdout))}`,
    `stderr: ${JSON.stringify(r.stderr)}`,
  ].join('\n');
}

/** How assertion messages name the sides: actual = the side under test, expected = the reference. */
export const SIDES_LABEL = SERVE
  ? `(actual = ${OUR_CLI ? 'our' : 'real'} etcdctl -> our server, expected = real etcdctl -> real etcd)`
  : '(actual = ours, expected = real etcdctl)';

function assertSame(title: string, real: RunResult, ours: RunResult, a: Comparable, b: Comparable): void {
  assert.deepStrictEqual(
    b,
    a,
    `${title}\n${SIDES_LABEL}\n${describe('REAL', real)}\n${describe(SERVE ? 'OUR SERVER' : 'OURS', ours)}`,
  );
}

/**
 * The server and etcdctl of the side under test for a comparison whose reference
 * side uses `server` and `realBin`.
 * @throws Error in serve mode when both sides would run the same binary against the
 *   same server (a comparison that cannot fail): start the server with
 *   startComparedEtcd / startTwinEtcds, or skip the test in serve mode (skipInServe).
 */
function subjectSide(server: ServerLike | undefined, realBin: string, oursBin: string | undefined, what: string): { server: ServerLike | undefined; bin: string } {
  const s = server?.subject ?? server;
  const bin = oursBin ?? SUBJECT_BIN;
  if (SERVE && s === server && bin === realBin) {
    throw new Error(`${what}: in serve mode the side under test needs our server (server.subject or a twin started by ` +
      'startComparedEtcd/startTwinEtcds); skip CLI-only cases with skipInServe');
  }
  return { server: s, bin };
}

export interface CompareOptions {
  server?: ServerLike;
  env?: Record<string, string>;
  stdin?: string | Buffer;
  normalize?: Normalizer;
  /** Prepend --endpoints=<server.endpoint> (default true; needs `server`). */
  endpoints?: boolean;
  /** Default 'errorLine'. */
  stderr?: StderrMode;
  timeoutMs?: number;
  /** Binaries (default REAL vs OURS). */
  realBin?: string;
  oursBin?: string;
}

export interface CompareResult {
  real: RunResult;
  ours: RunResult;
}

/** ENDPOINT_PLACEHOLDER in compareCli args becomes the endpoint of each side's server. */
export const ENDPOINT_PLACEHOLDER = '{{ENDPOINT}}';

function withEndpoint(args: string[], server: ServerLike | undefined, endpoints: boolean | undefined): string[] {
  if (server) args = args.map((a) => a.replaceAll(ENDPOINT_PLACEHOLDER, server.endpoint));
  if (endpoints === false) return args;
  if (!server) throw new Error('compareCli/runScenario: a server is required unless endpoints: false');
  return [`--endpoints=${server.endpoint}`, ...args];
}

/**
 * Runs real etcdctl and ours with the same args (read-only / idempotent cases)
 * and asserts equal stdout bytes, Error: line and exit code. In serve mode: the
 * real etcdctl against `server` and against `server.subject` (our server).
 * {{ENDPOINT}} in args is each side's server endpoint (for endpoints: false cases).
 */
export async function compareCli(args: string[], opts: CompareOptions = {}): Promise<CompareResult> {
  const realBin = opts.realBin ?? REAL;
  const subj = subjectSide(opts.server, realBin, opts.oursBin, `compareCli ${args.join(' ')}`);
  const full = withEndpoint(args, opts.server, opts.endpoints);
  const fullSubject = withEndpoint(args, subj.server, opts.endpoints);
  const runOpts: RunOptions = { env: opts.env, stdin: opts.stdin, timeoutMs: opts.timeoutMs };
  const [real, ours] = await Promise.all([
    runCli(realBin, full, runOpts),
    runCli(subj.bin, fullSubject, runOpts),
  ]);
  const mode = opts.stderr ?? 'errorLine';
  // Serve mode: the two servers are twins on different client ports, so each side's own
  // endpoint (in endpoint status/health, member list client URLs) becomes <ENDPOINT>.
  // (In cli mode both sides use one server and the port is compared as it is.)
  const normalize = subj.server !== opts.server ? composeNormalizers(opts.normalize, normalizeEndpoint) : opts.normalize;
  const a = toComparable(real, normalize, newRunContext('real', opts.server, 'real'), mode);
  const b = toComparable(ours, normalize, newRunContext('ours', subj.server, subj.bin === OURS ? 'ours' : 'real'), mode);
  assertSame(`etcdctl ${full.join(' ')}`, real, ours, a, b);
  return { real, ours };
}

/**
 * Runs the real etcdctl with `args` against `server` and, in serve mode, against its
 * subject (our twin) too, so both servers get the same writes (seeds for compareCli).
 * Sequential per server; returns the results in that order [reference, subject?].
 * @throws AssertionError if a run exits non-zero (unless opts.allowFailure).
 */
export async function seedCli(
  server: ServerLike,
  args: string[],
  opts: RunOptions & { allowFailure?: boolean } = {},
): Promise<RunResult[]> {
  const servers = server.subject ? [server, server.subject] : [server];
  const out: RunResult[] = [];
  for (const s of servers) {
    const r = await runCli(REAL, [`--endpoints=${s.endpoint}`, ...args], opts);
    if (!opts.allowFailure) assert.equal(r.code, 0, `seed ${args.join(' ')} on ${s.endpoint}: ${r.stderr}`);
    out.push(r);
  }
  return out;
}

/**
 * For compareCli on twins (e.g. from startTwinEtcds): in serve mode `reference` with
 * `twin` (our server) as its subject; in cli mode `reference` itself (both etcdctls
 * against it). Do not stop the result: stop the twins.
 */
export function withSubject(reference: ServerLike, twin: ServerLike): ServerLike {
  return SERVE ? { ...reference, subject: twin, stop: () => Promise.resolve() } : reference;
}

/** `server` and, in serve mode, its subject: every server a seed must reach. */
export function serversOf(server: ServerLike): ServerLike[] {
  return server.subject ? [server, server.subject] : [server];
}

export interface ScenarioStep {
  /**
   * Arguments (without --endpoints, which is prepended unless endpoints: false).
   * Strings may contain {{leaseN}} / {{leaseN.dec}} (N from 1), replaced by the
   * Nth lease ID seen in this run's earlier outputs (hex / decimal). A function
   * gets the run context and returns the args.
   */
  args: string[] | ((ctx: RunContext) => string[]);
  stdin?: string | Buffer;
  env?: Record<string, string>;
  /** Step-specific normalizer, applied after the scenario-wide one. */
  normalize?: Normalizer;
  /** Default: the scenario's, else 'errorLine'. */
  stderr?: StderrMode;
  timeoutMs?: number;
}

export interface ScenarioOptions {
  /** [server for real etcdctl, server for ours]. */
  servers: [ServerLike, ServerLike];
  /** Applied to every step (e.g. normalizeLeaseIds). */
  normalize?: Normalizer;
  /** Default 'errorLine'. */
  stderr?: StderrMode;
  endpoints?: boolean;
  realBin?: string;
  oursBin?: string;
}

export interface ScenarioResult {
  real: RunResult[];
  ours: RunResult[];
}

function expandArgs(step: ScenarioStep, ctx: RunContext): string[] {
  const args = typeof step.args === 'function' ? step.args(ctx) : step.args;
  return args.map((a) =>
    a.replace(/\{\{lease(\d+)(\.dec)?\}\}/g, (_m, n: string, dec: string | undefined) => {
      const id = ctx.leases[Number(n) - 1];
      if (id === undefined) throw new Error(`scenario: {{lease${n}}} used but only ${ctx.leases.length} lease(s) seen so far`);
      return dec ? id.toString(10) : id.toString(16).padStart(16, '0');
    }),
  );
}

async function runSide(
  side: 'real' | 'ours',
  bin: string,
  server: ServerLike,
  steps: ScenarioStep[],
  opts: ScenarioOptions,
): Promise<{ results: RunResult[]; comparables: Comparable[]; argv: string[][] }> {
  const ctx = newRunContext(side, server, bin === OURS ? 'ours' : 'real');
  const results: RunResult[] = [];
  const comparables: Comparable[] = [];
  const argv: string[][] = [];
  for (const step of steps) {
    const full = withEndpoint(expandArgs(step, ctx), server, opts.endpoints);
    argv.push(full);
    const r = await runCli(bin, full, { env: step.env, stdin: step.stdin, timeoutMs: step.timeoutMs });
    // Always learn lease IDs from raw output so later steps can use {{leaseN}}.
    learnLeaseIds(bytesToText(r.stdout), ctx);
    comparables.push(
      toComparable(r, composeNormalizers(opts.normalize, step.normalize), ctx, step.stderr ?? opts.stderr ?? 'errorLine'),
    );
    results.push(r);
    ctx.results.push(r);
  }
  return { results, comparables, argv };
}

/**
 * Runs all steps with real etcdctl against servers[0], then all steps with the
 * subject's etcdctl (ours in cli mode, real in serve mode) against servers[1]
 * (in serve mode: our server, see startTwinEtcds), and compares them step by step.
 */
export async function runScenario(steps: ScenarioStep[], opts: ScenarioOptions): Promise<ScenarioResult> {
  const [sa, sb] = opts.servers;
  const realBin = opts.realBin ?? REAL;
  // servers[1]'s subject if it has one (a startComparedEtcd server), else servers[1]
  const sbSubject = sb.subject ?? sb;
  const subjBin = opts.oursBin ?? SUBJECT_BIN;
  if (SERVE && sbSubject === sa && subjBin === realBin) {
    throw new Error('runScenario: in serve mode servers[1] must be our server (startTwinEtcds) or have a subject');
  }
  const A = await runSide('real', realBin, sa, steps, opts);
  const B = await runSide('ours', subjBin, sbSubject, steps, opts);
  for (let i = 0; i < steps.length; i++) {
    assertSame(
      `scenario step ${i + 1}/${steps.length}: etcdctl ${A.argv[i]!.join(' ')}  |  ours: ${B.argv[i]!.join(' ')}`,
      A.results[i]!,
      B.results[i]!,
      A.comparables[i]!,
      B.comparables[i]!,
    );
  }
  return { real: A.results, ours: B.results };
}
