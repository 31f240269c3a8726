/**
 * @module cli/main
 * The etcdctl entry point: ETCDCTL_API handling, cobra-style command lookup (with
 * prefix matching and suggestions), pflag-style parsing of global and local flags,
 * help, and turning errors into etcdctl's `Error: ...` lines and exit codes.
 * Heavy modules (gRPC, generated protos) load only when a command needs a client.
 */

import { setProcessArgs } from './process-args.js';
import { commandName, type CommandContext, type CommandSpec, type Output } from './command.js';
import { CliError, ExitError, SilentExit } from './exit-codes.js';
import { parseFlags, type FlagSpec, type FlagValues } from './flags.js';
import { formatGoDuration, goQuote } from './go-format.js';
import { EtcdError } from '../client/errors.js';
import { applyEnv, EnvConflictError, flagToEnv, GLOBAL_FLAGS, globalOptionsFrom, type GlobalOptions } from './global-flags.js';
import { helpFlag, renderHelp, sortedSubcommands } from './help.js';
import { ROOT } from './registry.js';
import { completeRequest, runComplete } from './complete.js';
import { releaseEarlySignals } from '../commands/lock.js';

/** Collects stdout chunks and writes them in one go (or on flush). */
class BufferedOutput implements Output {
  private chunks: Uint8Array[] = [];
  write(chunk: string | Uint8Array): void {
    this.chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    if (this.chunks.length > 4096) this.flush();
  }
  flush(): void {
    if (this.chunks.length === 0) return;
    const data = Buffer.concat(this.chunks);
    this.chunks = [];
    writeAllSync(1, data);
  }
}

/** Writes all of `data` to a file descriptor, retrying on EAGAIN (non-blocking pipes). */
function writeAllSync(fd: number, data: Uint8Array): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fs = process.getBuiltinModule ? (process.getBuiltinModule('node:fs') as typeof import('node:fs')) : undefined;
  if (!fs) {
    (fd === 1 ? process.stdout : process.stderr).write(data);
    return;
  }
  let off = 0;
  while (off < data.length) {
    try {
      off += fs.writeSync(fd, data, off, data.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') continue;
      if (code === 'EPIPE') return;
      throw e;
    }
  }
}

function writeErr(s: string): void {
  writeAllSync(2, Buffer.from(s));
}

/** cobra's stripFlags: the non-flag words of `args`, skipping values of non-boolean flags. */
export function stripFlags(args: readonly string[], flags: readonly FlagSpec[]): string[] {
  const boolLong = new Set(flags.filter((f) => f.type === 'bool').map((f) => f.name));
  const boolShort = new Set(flags.filter((f) => f.type === 'bool' && f.short).map((f) => f.short!));
  const words: string[] = [];
  let rest = [...args];
  while (rest.length > 0) {
    const s = rest[0]!;
    rest = rest.slice(1);
    if (s === '--') break;
    const longWithValue = s.startsWith('--') && !s.includes('=') && !boolLong.has(s.slice(2));
    const shortWithValue = s.startsWith('-') && !s.includes('=') && s.length === 2 && !boolShort.has(s.slice(1));
    if (longWithValue || shortWithValue) {
      if (rest.length <= 1) break;
      rest = rest.slice(1);
      continue;
    }
    if (s !== '' && !s.startsWith('-')) words.push(s);
  }
  return words;
}

/** cobra's argsMinusFirstX: `args` without the first occurrence of the command word `x`. */
export function argsMinusFirst(args: readonly string[], x: string, flags: readonly FlagSpec[]): string[] {
  const boolLong = new Set(flags.filter((f) => f.type === 'bool').map((f) => f.name));
  const boolShort = new Set(flags.filter((f) => f.type === 'bool' && f.short).map((f) => f.short!));
  for (let i = 0; i < args.length; i++) {
    const s = args[i]!;
    if (s === '--') break;
    if (s.startsWith('-')) {
      const takesValue = !s.includes('=') && (s.startsWith('--') ? !boolLong.has(s.slice(2)) : s.length === 2 && !boolShort.has(s.slice(1)));
      if (takesValue) i++;
      continue;
    }
    if (s === x) return [...args.slice(0, i), ...args.slice(i + 1)];
  }
  return [...args];
}

/** Levenshtein distance, case-insensitive (cobra's `ld`). */
function levenshtein(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
    }
  }
  return d[a.length]![b.length]!;
}

/** The flags visible to a command: its own, help, persistent ones of it and its ancestors, and the global ones. */
export function allFlags(cmd: CommandSpec, isRoot: boolean, ancestors: readonly CommandSpec[] = []): FlagSpec[] {
  const inherited = ancestors.flatMap((a) => a.persistentFlags ?? []);
  return [...(isRoot ? [] : [...(cmd.flags ?? []), ...(cmd.persistentFlags ?? [])]), ...inherited, helpFlag(commandName(cmd)), ...GLOBAL_FLAGS];
}

export interface Found {
  path: CommandSpec[];
  args: string[];
  error?: string;
}

/** cobra's Find: walks subcommand names (exact, then unique prefix) through `args`. */
export function findCommand(args: readonly string[]): Found {
  const path: CommandSpec[] = [ROOT];
  let rest = [...args];
  for (;;) {
    const cur = path[path.length - 1]!;
    const flags = allFlags(cur, path.length === 1, path.slice(0, -1));
    const words = stripFlags(rest, flags);
    if (words.length === 0 || !cur.subcommands?.length) break;
    const next = words[0]!;
    const subs = sortedSubcommands(cur);
    let found = subs.find((s) => commandName(s) === next);
    if (!found) {
      const matches = subs.filter((s) => commandName(s).startsWith(next));
      if (matches.length === 1) found = matches[0];
    }
    if (!found) break;
    path.push(found);
    rest = argsMinusFirst(rest, next, flags);
  }
  const cmd = path[path.length - 1]!;
  if (path.length === 1) {
    const words = stripFlags(rest, allFlags(cmd, true));
    if (words.length > 0) {
      const typed = words[0]!;
      let msg = `unknown command ${goQuote(typed)} for "etcdctl"`;
      const suggestions = sortedSubcommands(ROOT)
        .map(commandName)
        .filter((n) => n !== 'help' && (levenshtein(typed, n) <= 2 || n.toLowerCase().startsWith(typed.toLowerCase())));
      if (suggestions.length > 0) msg += '\n\nDid you mean this?\n' + suggestions.map((s) => `\t${s}\n`).join('');
      return { path, args: rest, error: msg };
    }
  }
  return { path, args: rest };
}

export { rawArgv } from '../util/arg-bytes.js';

/**
 * Runs etcdctl with `argv` (without node and script).
 * @returns the process exit code
 */
export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  setProcessArgs(argv);
  // Node deprecation warnings (e.g. from a dependency) are not ours to print.
  (process as { noDeprecation?: boolean }).noDeprecation = true;
  const out = new BufferedOutput();
  try {
    return await run(argv, env, out);
  } catch (e) {
    out.flush();
    if (e instanceof SilentExit) return e.code;
    if (e instanceof CliError) {
      writeErr(`Error: ${e.message}\n${e.detail ? e.detail + '\n' : ''}`);
      return e.code;
    }
    if (e instanceof EnvConflictError) {
      writeErr(e.line);
      return ExitError;
    }
    if (e instanceof EtcdError) {
      writeErr(`Error: ${e.message}\n${e.reason ? e.reason + '\n' : ''}`);
      return ExitError;
    }
    const err = e as Error;
    writeErr(`Error: ${err?.message ?? String(e)}\n`);
    if (env.ETCDTS_TRACE) writeErr(`${err?.stack}\n`);
    return ExitError;
  } finally {
    out.flush();
  }
}

async function run(argv: string[], env: NodeJS.ProcessEnv, out: BufferedOutput): Promise<number> {
  const api = env.ETCDCTL_API;
  env = { ...env };
  delete env.ETCDCTL_API;
  if (api !== undefined && api !== '' && api !== '3') {
    // the v2 client is a bundle of its own (dist/etcdctl-v2.cjs, see scripts/build.mjs)
    // (v2 has no lock/elect: bin/etcdctl's early signal handler goes at once)
    if (api === '2') {
      releaseEarlySignals();
      return (await import('./v2/main.js')).mainV2(argv, env);
    }
    writeErr(`unsupported API version ${api}\n`);
    return ExitError;
  }

  // the hidden __complete commands of the completion scripts (cli/complete)
  const completeReq = completeRequest(argv);
  if (completeReq) return runComplete(completeReq, out, writeErr, env);

  const found = findCommand(argv);
  const cmd = found.path[found.path.length - 1]!;
  if (found.error) {
    writeErr(`Error: ${found.error}\nRun 'etcdctl --help' for usage.\n`);
    throw new CliError(ExitError, found.error);
  }
  if (cmd.onFound) cmd.onFound(() => out.flush());
  else releaseEarlySignals();
  const isRoot = found.path.length === 1;
  const specs = allFlags(cmd, isRoot, found.path.slice(0, -1));
  let parsed;
  try {
    parsed = parseFlags(found.args, specs);
  } catch (e) {
    if (e instanceof CliError) {
      writeErr(`Error: ${e.message}\n`);
      out.write(renderHelp(found.path, GLOBAL_FLAGS));
      out.flush();
      writeErr('\n');
    }
    throw e;
  }
  if (parsed.values.bool('help') || !cmd.run) {
    out.write(renderHelp(found.path, GLOBAL_FLAGS));
    return 0;
  }
  if (commandName(cmd) === 'help' && found.path.length === 2) {
    return helpCommand(parsed.args, out);
  }
  if (!cmd.light) await preloadPrinters();
  const ctx = makeContext(found.path.map(commandName).slice(1), parsed.args, parsed.argsLenAtDash, parsed.values, env, out);
  try {
    await cmd.run(ctx);
  } finally {
    ctx.closeClient();
  }
  return 0;
}

/** cobra's help command: `etcdctl help [command]`. */
function helpCommand(args: string[], out: Output): number {
  const f = findCommand(args);
  if (f.error || (args.length > 0 && f.path.length === 1)) {
    writeErr(`Unknown help topic [${args.map((a) => '`' + a + '`').join(' ')}]\n`);
    out.write(renderHelp([ROOT], GLOBAL_FLAGS, { withHelpFlag: false }));
    return 0;
  }
  out.write(renderHelp(f.path, GLOBAL_FLAGS));
  return 0;
}

function makeContext(
  path: string[],
  args: string[],
  argsLenAtDash: number,
  flags: FlagValues,
  env: NodeJS.ProcessEnv,
  out: BufferedOutput,
): CommandContext & { closeClient(): void } {
  let globals: GlobalOptions | undefined;
  let client: import('../client/client.js').EtcdClient | undefined;
  let printer: import('./printer/printer.js').Printer | undefined;
  const isWatch = path[0] === 'watch';
  const ctx: CommandContext & { closeClient(): void } = {
    path,
    args,
    argsLenAtDash,
    flags,
    env,
    out,
    errWrite: writeErr,
    async readStdin() {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    },
    globals() {
      if (globals) return globals;
      applyEnv(flags, env, writeErr, isWatch ? ['ETCDCTL_WATCH_KEY', 'ETCDCTL_WATCH_RANGE_END'] : []);
      if (flags.bool('debug')) {
        const names = [...GLOBAL_FLAGS.map((f) => f.name), ...(isWatch ? ['watch-key', 'watch-range-end'] : [])].sort();
        let s = '';
        for (const n of names) {
          const spec = GLOBAL_FLAGS.find((f) => f.name === n);
          s += `${flagToEnv(n)}=${spec ? debugValue(flags, spec) : ''}\n`;
        }
        writeErr(s);
      }
      globals = globalOptionsFrom(flags);
      return globals;
    },
    display(opts?: { valueOnly?: boolean }) {
      if (printer) return printer;
      const g = ctx.globals();
      printer = createPrinterSync(g.writeOut, { out, hex: g.hex, valueOnly: opts?.valueOnly, errWrite: writeErr });
      return printer;
    },
    async client() {
      if (client) return client;
      const g = ctx.globals();
      ctx.display();
      const { makeClient, discoverEndpoints } = await import('./connect.js');
      await discoverEndpoints(g, writeErr);
      client = await makeClient(g, writeErr);
      return client;
    },
    closeClient() {
      client?.close();
    },
  };
  return ctx;
}

let createPrinterSync: typeof import('./printer/printer.js').createPrinter;

/** Loads the printer module (and with it the generated protos) before a command runs. */
export async function preloadPrinters(): Promise<void> {
  createPrinterSync = (await import('./printer/printer.js')).createPrinter;
}

function debugValue(flags: FlagValues, spec: FlagSpec): string {
  const v = flags.get(spec.name);
  switch (spec.type) {
    case 'stringSlice': return `[${(v as string[]).join(',')}]`;
    case 'duration': return formatGoDuration(v as number);
    default: return String(v);
  }
}

