/**
 * @module cli/v2/app
 * The command-line framework of etcdctl's v2 mode, behaving as urfave/cli v1 (the
 * version etcdctl 3.4.23 is built with for ETCDCTL_API=2) on top of Go's `flag` package:
 * - flags are parsed by Go's rules: `-name` or `--name`, `-name=value` or `-name value`,
 *   booleans only as `-name` or `-name=bool`, parsing stops at the first non-flag or
 *   after `--`; Go's error texts (`flag provided but not defined: -x`,
 *   `flag needs an argument: -o`, `invalid value "x" for flag -ttl: parse error`);
 * - a command's own flags may follow its arguments (see {@link reorderArgs}); unknown
 *   dashed words after the first argument stay arguments;
 * - usage errors print `Incorrect Usage. <err>` (app level) or `Incorrect Usage: <err>`
 *   (command level) and the help on stdout, the error on stderr, exit 1;
 * - an unknown command prints `No help topic for '<name>'` on stderr, exit 3;
 * - help output with urfave's templates, laid out by Go's text/tabwriter
 *   (minwidth 1, tabwidth 8, padding 2, spaces).
 */

import { formatGoDuration, goQuote, parseGoBool, parseGoDuration, parseGoInt } from '../go-format.js';
import { tabwrite, type TabwriterOptions } from '../tabwriter.js';

/** A flag as urfave/cli declares it: `name` may list aliases (`"output, o"`). */
export interface V2Flag {
  name: string;
  kind: 'bool' | 'string' | 'int' | 'duration' | 'stringSlice';
  usage: string;
  /** string: '' ; int: 0 ; duration: ns ; stringSlice: [] ; bool: false */
  value?: string | number;
}

/** Parsed flag values of one level (app or command), by every alias. */
export class V2FlagSet {
  private readonly vals = new Map<string, string | number | boolean | string[]>();
  /** names given on the command line */
  readonly set = new Set<string>();
  constructor(readonly flags: readonly V2Flag[]) {
    for (const f of flags) {
      const v = f.kind === 'bool' ? false : f.kind === 'stringSlice' ? [] : f.value ?? (f.kind === 'string' ? '' : 0);
      for (const n of names(f)) this.vals.set(n, v);
    }
  }
  /** the flag declaring `name` */
  find(name: string): V2Flag | undefined {
    return this.flags.find((f) => names(f).includes(name));
  }
  /** Sets a flag from its text, as Go's flag.Value.Set. @throws Error with Go's reason */
  assign(f: V2Flag, raw: string): void {
    let v: string | number | boolean | string[];
    switch (f.kind) {
      case 'bool':
        try { v = parseGoBool(raw); } catch { throw new Error('parse error'); }
        break;
      case 'int':
        try {
          v = Number(parseGoInt(raw, 0, 64));
        } catch (e) {
          throw new Error(/out of range/.test((e as Error).message) ? 'value out of range' : 'parse error');
        }
        break;
      case 'duration':
        try { v = parseGoDuration(raw); } catch { throw new Error('parse error'); }
        break;
      case 'stringSlice':
        v = [...(this.vals.get(names(f)[0]!) as string[]), raw];
        break;
      default:
        v = raw;
    }
    for (const n of names(f)) {
      this.vals.set(n, v);
      this.set.add(n);
    }
  }
  bool(n: string): boolean { return this.vals.get(n) === true; }
  string(n: string): string { return String(this.vals.get(n) ?? ''); }
  int(n: string): number { return Number(this.vals.get(n) ?? 0); }
  duration(n: string): number { return Number(this.vals.get(n) ?? 0); }
  strings(n: string): string[] { return (this.vals.get(n) as string[] | undefined) ?? []; }
}

/** The aliases of a flag, long first as declared. */
export function names(f: V2Flag): string[] {
  return f.name.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** A usage error of Go's flag package. */
export class FlagError extends Error {}

/**
 * Go's FlagSet.Parse: sets flags from `args` until the first non-flag or `--`.
 * @returns the remaining arguments
 * @throws FlagError with Go's message
 */
export function goFlagParse(fs: V2FlagSet, args: string[]): string[] {
  let rest = [...args];
  while (rest.length > 0) {
    const s = rest[0]!;
    if (s.length < 2 || s[0] !== '-') break;
    let numMinuses = 1;
    if (s[1] === '-') {
      numMinuses++;
      if (s.length === 2) {
        rest = rest.slice(1);
        break;
      }
    }
    let name = s.slice(numMinuses);
    if (name.length === 0 || name[0] === '-' || name[0] === '=') throw new FlagError(`bad flag syntax: ${s}`);
    rest = rest.slice(1);
    let hasValue = false;
    let value = '';
    const eq = name.indexOf('=');
    if (eq > 0) {
      value = name.slice(eq + 1);
      hasValue = true;
      name = name.slice(0, eq);
    }
    const f = fs.find(name);
    if (!f) throw new FlagError(`flag provided but not defined: -${name}`);
    if (f.kind === 'bool') {
      if (hasValue) {
        try { fs.assign(f, value); } catch (e) {
          throw new FlagError(`invalid boolean value ${goQuote(value)} for -${name}: ${(e as Error).message}`);
        }
      } else fs.assign(f, 'true');
      continue;
    }
    if (!hasValue && rest.length > 0) {
      hasValue = true;
      value = rest[0]!;
      rest = rest.slice(1);
    }
    if (!hasValue) throw new FlagError(`flag needs an argument: -${name}`);
    try { fs.assign(f, value); } catch (e) {
      throw new FlagError(`invalid value ${goQuote(value)} for flag -${name}: ${(e as Error).message}`);
    }
  }
  return rest;
}

/**
 * urfave/cli's reorderArgs (the version etcdctl 3.4.23 is built with): an argument
 * naming one of `flags` (`-n`, `--n`, `-n=v`, ...) moves to the front, and so does the
 * argument after such a flag written without `=`, unless that one names a flag too (so
 * `-q -` and `-q --bogus` take the next word as a value). The first other `--` ends the
 * scan: it is put before the remaining arguments and everything after it follows them.
 */
export function reorderArgs(flags: readonly V2Flag[], args: string[]): string[] {
  const known = new Set(flags.flatMap(names));
  const isFlag = (a: string) => {
    if (a === '-' || a === '--' || !a.startsWith('-')) return false;
    let n = a.startsWith('--') ? a.slice(2) : a;
    if (n.startsWith('-')) n = n.slice(1);
    return known.has(n.split('=')[0]!);
  };
  const moved: string[] = [];
  let rest: string[] = [];
  let mayBeValue = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (mayBeValue && !isFlag(a)) {
      mayBeValue = false;
      moved.push(a);
    } else if (a === '--') {
      rest = ['--', ...rest, ...args.slice(i + 1)];
      break;
    } else if (isFlag(a)) {
      moved.push(a);
      mayBeValue = !a.includes('=');
    } else rest.push(a);
  }
  return [...moved, ...rest];
}

/** The flag help line (urfave stringifyFlag): `--name value, -n value\tusage (default: x)`. */
export function flagHelp(f: V2Flag): string {
  let usage = f.usage;
  let placeholder = 'value';
  const i = usage.indexOf('`');
  if (i >= 0) {
    const j = usage.indexOf('`', i + 1);
    if (j >= 0) {
      placeholder = usage.slice(i + 1, j);
      usage = usage.slice(0, i) + placeholder + usage.slice(j + 1);
    }
  }
  const parts = names(f).map((n) => (n.length === 1 ? '-' : '--') + n + (f.kind === 'bool' ? '' : ' ' + placeholder));
  let def = '';
  if (f.kind === 'string' && f.value) def = ` (default: ${goQuote(String(f.value))})`;
  else if (f.kind === 'int') def = ` (default: ${f.value ?? 0})`;
  else if (f.kind === 'duration') def = ` (default: ${formatGoDuration(Number(f.value ?? 0))})`;
  return `${parts.join(', ')}\t${usage}${def}`;
}

/** urfave/cli's help writer: `tabwriter.NewWriter(out, 1, 8, 2, ' ', 0)`. */
const HELP_TABWRITER: TabwriterOptions = { minwidth: 1, tabwidth: 8, padding: 2, padchar: ' ' };

/** Context of a running command: its args, its flags and the app's global flags. */
export interface V2Context {
  args: string[];
  flags: V2FlagSet;
  globals: V2FlagSet;
}

/** A command (urfave cli.Command). */
export interface V2Command {
  name: string;
  aliases?: string[];
  usage: string;
  argsUsage?: string;
  description?: string;
  flags?: V2Flag[];
  subcommands?: V2Command[];
  action?: (c: V2Context) => Promise<void> | void;
}

/** Ends the CLI with an exit code after the command printed what it had to. */
export class V2Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** What the app writes to: stdout and stderr writers. */
export interface V2Io {
  out(s: string): void;
  err(s: string): void;
}

export const HELP_FLAG: V2Flag = { name: 'help, h', kind: 'bool', usage: 'show help' };
export const VERSION_FLAG: V2Flag = { name: 'version, v', kind: 'bool', usage: 'print the version' };
const HELP_COMMAND: V2Command = { name: 'help', aliases: ['h'], usage: 'Shows a list of commands or help for one command', argsUsage: '[command]' };

/** The application (urfave cli.App) of etcdctl's v2 mode. */
export interface V2App {
  name: string;
  usage: string;
  version: string;
  flags: V2Flag[];
  commands: V2Command[];
  printVersion(io: V2Io): void;
}

function commandNames(c: V2Command): string[] {
  return [c.name, ...(c.aliases ?? [])];
}

function commandList(cmds: V2Command[]): string {
  return cmds.map((c) => `\n   ${commandNames(c).join(', ')}\t${c.usage}`).join('');
}

/** AppHelpTemplate. */
function appHelp(name: string, usage: string, version: string, flags: V2Flag[], cmds: V2Command[]): string {
  let s = `NAME:\n   ${name}${usage ? ' - ' + usage : ''}\n\nUSAGE:\n   ${name} ${flags.length ? '[global options]' : ''}${cmds.length ? ' command [command options]' : ''} [arguments...]`;
  if (version) s += `\n\nVERSION:\n   ${version}`;
  if (cmds.length) s += `\n\nCOMMANDS:${commandList(cmds)}`;
  if (flags.length) s += `\n\nGLOBAL OPTIONS:\n   ${flags.map(flagHelp).join('\n   ')}`;
  return tabwrite(s + '\n', HELP_TABWRITER);
}

/** CommandHelpTemplate. */
function commandHelp(helpName: string, c: V2Command): string {
  const flags = c.flags ?? [];
  let s = `NAME:\n   ${helpName} - ${c.usage}\n\nUSAGE:\n   ${helpName}${flags.length ? ' [command options]' : ''} ${c.argsUsage ? c.argsUsage : '[arguments...]'}`;
  if (c.description) s += `\n\nDESCRIPTION:\n   ${c.description}`;
  if (flags.length) s += `\n\nOPTIONS:\n   ${flags.map((f) => flagHelp(f) + '\n   ').join('')}`;
  return tabwrite(s + '\n', HELP_TABWRITER);
}

/** SubcommandHelpTemplate. */
function subcommandHelp(helpName: string, c: V2Command): string {
  const flags = [...(c.flags ?? []), HELP_FLAG];
  let s = `NAME:\n   ${helpName} - ${c.description ? c.description : c.usage}\n\nUSAGE:\n   ${helpName} command [command options] ${c.argsUsage ? c.argsUsage : '[arguments...]'}`;
  s += `\n\nCOMMANDS:${commandList(c.subcommands ?? [])}`;
  s += `\n\nOPTIONS:\n   ${flags.map((f) => flagHelp(f) + '\n   ').join('')}`;
  return tabwrite(s + '\n', HELP_TABWRITER);
}

function findCommand(cmds: V2Command[], name: string): V2Command | undefined {
  return cmds.find((c) => commandNames(c).includes(name));
}

/**
 * Runs the app on `argv` (without the program name), as urfave's App.Run.
 * @returns the exit code
 */
export async function runApp(app: V2App, argv: string[], io: V2Io): Promise<number> {
  const globals = new V2FlagSet([...app.flags, HELP_FLAG, VERSION_FLAG]);
  const showAppHelp = () => io.out(appHelp(app.name, app.usage, app.version, [...app.flags, HELP_FLAG, VERSION_FLAG], [...app.commands, HELP_COMMAND]));
  let args: string[];
  try {
    args = goFlagParse(globals, argv);
  } catch (e) {
    if (!(e instanceof FlagError)) throw e;
    io.out(`Incorrect Usage. ${e.message}\n\n`);
    showAppHelp();
    io.err(e.message + '\n');
    return 1;
  }
  if (globals.bool('help')) {
    showAppHelp();
    return 0;
  }
  if (globals.bool('version')) {
    app.printVersion(io);
    return 0;
  }
  if (args.length === 0) {
    showAppHelp();
    return 0;
  }
  const name = args[0]!;
  if (name === 'help' || name === 'h') {
    if (args.length === 1) {
      showAppHelp();
      return 0;
    }
    if (args[1] === 'help' || args[1] === 'h') {
      io.out(commandHelp('', HELP_COMMAND));
      return 0;
    }
    const c = findCommand(app.commands, args[1]!);
    if (!c) {
      io.err(`No help topic for '${args[1]}'\n`);
      return 3;
    }
    io.out(commandHelp(`${app.name} ${c.name}`, c));
    return 0;
  }
  const cmd = findCommand(app.commands, name);
  if (!cmd) {
    io.err(`No help topic for '${name}'\n`);
    return 3;
  }
  if (cmd.subcommands) return runSubApp(app, cmd, args.slice(1), globals, io);
  return runCommand(`${app.name} ${cmd.name}`, cmd, args.slice(1), globals, io);
}

/** A command with subcommands runs as an app of its own (urfave Command.startApp). */
async function runSubApp(app: V2App, cmd: V2Command, argv: string[], globals: V2FlagSet, io: V2Io): Promise<number> {
  const helpName = `${app.name} ${cmd.name}`;
  const fs = new V2FlagSet([...(cmd.flags ?? []), HELP_FLAG]);
  const subs = cmd.subcommands ?? [];
  let args: string[];
  try {
    args = goFlagParse(fs, argv);
  } catch (e) {
    if (!(e instanceof FlagError)) throw e;
    io.out(`Incorrect Usage. ${e.message}\n\n`);
    io.out(subcommandHelp(helpName, cmd));
    io.err(e.message + '\n');
    return 1;
  }
  if (args.length === 0 || fs.bool('help')) {
    io.out(subcommandHelp(helpName, cmd));
    return 0;
  }
  const name = args[0]!;
  if (name === 'help' || name === 'h') {
    if (args.length === 1) {
      io.out(appHelp(helpName, cmd.usage, app.version, [HELP_FLAG], subs));
      return 0;
    }
    const c = findCommand(subs, args[1]!);
    if (!c) {
      io.err(`No help topic for '${args[1]}'\n`);
      return 3;
    }
    io.out(commandHelp(`${helpName} ${c.name}`, c));
    return 0;
  }
  const sub = findCommand(subs, name);
  if (!sub) {
    io.err(`No help topic for '${name}'\n`);
    return 3;
  }
  return runCommand(`${helpName} ${sub.name}`, sub, args.slice(1), globals, io);
}

/** urfave Command.Run for a command without subcommands. */
async function runCommand(helpName: string, cmd: V2Command, argv: string[], globals: V2FlagSet, io: V2Io): Promise<number> {
  const all = [...(cmd.flags ?? []), HELP_FLAG];
  const fs = new V2FlagSet(all);
  let args: string[];
  try {
    args = goFlagParse(fs, reorderArgs(all, argv));
  } catch (e) {
    if (!(e instanceof FlagError)) throw e;
    io.out(`Incorrect Usage: ${e.message}\n\n`);
    io.out(commandHelp(helpName, cmd));
    io.err(e.message + '\n');
    return 1;
  }
  if (fs.bool('help')) {
    io.out(commandHelp(helpName, cmd));
    return 0;
  }
  try {
    await cmd.action!({ args, flags: fs, globals });
  } catch (e) {
    if (e instanceof V2Exit) return e.code;
    throw e;
  }
  return 0;
}
