/**
 * @module cli/complete
 * The hidden `__complete` / `__completeNoDesc` commands that the scripts of `etcdctl
 * completion <shell>` run to ask for candidates, answering in spf13/cobra 1.6.1's
 * protocol (completions.go): one candidate per line (`name<TAB>description`, or just
 * the name for `__completeNoDesc`), then `:<directive>` (a bit set: 1 error, 2 no
 * space, 4 no file completion, 8 filter file extensions, 16 filter directories), and on
 * stderr `Completion ended with directive: ...` (plus `[Debug] [Error] ...` lines).
 *
 * The last argument is the word being completed; the others are the command line so
 * far. What is offered, as cobra does for etcdctl's commands: subcommand names (with
 * their short help) while no argument was given to a command with subcommands; flag
 * names (inherited flags first, then the command's own, each sorted, `-x` after its
 * `--long` form; flags already set are left out unless they are slices) for a word
 * starting with `-`; nothing for flag values and arguments (no file completion only for
 * the `completion` commands and commands with subcommands); `help` completes command
 * paths.
 */

import { commandName, type CommandSpec, type Output } from './command.js';
import { CliError, ExitError } from './exit-codes.js';
import { parseFlags, type FlagSpec } from './flags.js';
import { GLOBAL_FLAGS } from './global-flags.js';
import { helpFlag, renderHelp, sortedSubcommands } from './help.js';
import { allFlags, argsMinusFirst, findCommand, stripFlags } from './main.js';
import { ROOT } from './registry.js';
import { completionCommand } from '../commands/completion.js';

/** cobra's ShellCompDirective bits. */
const DirectiveError = 1;
const DirectiveNoSpace = 2;
const DirectiveNoFileComp = 4;
const DirectiveFilterFileExt = 8;
const DirectiveFilterDirs = 16;
const DirectiveDefault = 0;

const COMPLETE = '__complete';
const COMPLETE_NO_DESC = '__completeNoDesc';

/** The hidden command itself (for its usage on a missing argument). */
const COMPLETE_SPEC: CommandSpec = {
  use: `${COMPLETE} [command-line]`,
  short: 'Request shell completion choices for the specified command-line',
  long: `${COMPLETE} is a special command that is used by the shell completion logic\nto request completion choices for the specified command-line.`,
  disableFlagsInUseLine: true,
};

/** A `__complete` invocation found on the command line. */
export interface CompleteRequest {
  /** called as `__completeNoDesc` (or a prefix of it only) */
  noDesc: boolean;
  /** the command line after the `__complete` word (flags before it included) */
  args: string[];
}

/** Which `__complete` name a command word selects, with cobra's exact-then-unique-prefix matching. */
function matchCompleteWord(word: string): 'desc' | 'nodesc' | undefined {
  if (word === COMPLETE) return 'desc';
  if (word === COMPLETE_NO_DESC) return 'nodesc';
  const names = sortedSubcommands(ROOT).map(commandName);
  if (names.includes(word)) return undefined;
  const others = names.filter((n) => n.startsWith(word));
  if (others.length > 0) return undefined;
  if (COMPLETE.startsWith(word)) return 'desc';
  if (COMPLETE_NO_DESC.startsWith(word)) return 'nodesc';
  return undefined;
}

/**
 * Recognises `etcdctl [flags] __complete ...` as cobra's Find does with the hidden
 * command added: the first non-flag word names it (exactly, or as a unique prefix).
 * @returns the request, or undefined for any other command line
 */
export function completeRequest(argv: readonly string[]): CompleteRequest | undefined {
  const words = stripFlags(argv, allFlags(ROOT, true));
  if (words.length === 0 || words[0] === '') return undefined;
  const m = matchCompleteWord(words[0]!);
  if (!m) return undefined;
  return { noDesc: m === 'nodesc', args: argsMinusFirst(argv, words[0]!, allFlags(ROOT, true)) };
}

/** cobra's ShellCompDirective.string(). */
function directiveNames(d: number): string {
  const names: string[] = [];
  if (d & DirectiveError) names.push('ShellCompDirectiveError');
  if (d & DirectiveNoSpace) names.push('ShellCompDirectiveNoSpace');
  if (d & DirectiveNoFileComp) names.push('ShellCompDirectiveNoFileComp');
  if (d & DirectiveFilterFileExt) names.push('ShellCompDirectiveFilterFileExt');
  if (d & DirectiveFilterDirs) names.push('ShellCompDirectiveFilterDirs');
  if (names.length === 0) names.push('ShellCompDirectiveDefault');
  if (d >= 32) return `ERROR: unexpected ShellCompDirective value: ${d}`;
  return names.join(', ');
}

/** Go's %v of a []string. */
function goList(a: readonly string[]): string {
  return `[${a.join(' ')}]`;
}

/** Commands whose ValidArgsFunction is cobra's NoFileCompletions. */
function noFileCompletions(cmd: CommandSpec): boolean {
  return cmd === completionCommand || (completionCommand.subcommands ?? []).includes(cmd);
}

interface Completion {
  items: string[];
  directive: number;
  error?: string;
}

/** The flags a command inherits (cobra InheritedFlags), sorted by name. */
function inheritedFlags(path: readonly CommandSpec[]): FlagSpec[] {
  if (path.length === 1) return [];
  const inherited = [...GLOBAL_FLAGS, ...path.slice(1, -1).flatMap((c) => c.persistentFlags ?? [])];
  return sortByName(inherited);
}

/** The command's own flags, persistent ones and help included (cobra NonInheritedFlags), sorted. */
function ownFlags(path: readonly CommandSpec[]): FlagSpec[] {
  const cmd = path[path.length - 1]!;
  const own = path.length === 1 ? [...GLOBAL_FLAGS] : [...(cmd.flags ?? []), ...(cmd.persistentFlags ?? [])];
  return sortByName([...own, helpFlag(commandName(cmd))]);
}

function sortByName(flags: FlagSpec[]): FlagSpec[] {
  return [...flags].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** cobra's getFlagNameCompletions. */
function flagNameCompletions(f: FlagSpec, toComplete: string): string[] {
  if (f.hidden) return [];
  const out: string[] = [];
  if (`--${f.name}`.startsWith(toComplete)) out.push(`--${f.name}\t${f.usage}`);
  if (f.short && `-${f.short}`.startsWith(toComplete)) out.push(`-${f.short}\t${f.usage}`);
  return out;
}

/** pflag: does this word look like a flag (`-x...` or `--x...`)? */
function isFlagArg(a: string): boolean {
  return (a.length >= 3 && a[1] === '-') || (a.length >= 2 && a[0] === '-' && a[1] !== '-');
}

/** The completions for a `help` command line (cobra's help command ValidArgsFunction). */
function helpCompletions(args: string[], toComplete: string): Completion {
  const f = findCommand(args);
  if (f.error) return { items: [], directive: DirectiveNoFileComp };
  const cmd = f.path[f.path.length - 1]!;
  const items = sortedSubcommands(cmd)
    .filter((s) => commandName(s).startsWith(toComplete))
    .map((s) => `${commandName(s)}\t${s.short}`);
  return { items, directive: DirectiveNoFileComp };
}

/** cobra's getCompletions for etcdctl's command tree. */
function getCompletions(args: string[]): Completion {
  const toCompleteIn = args[args.length - 1]!;
  const trimmed = args.slice(0, -1);

  // The hidden command completing itself: flag parsing is disabled there.
  const first = stripFlags(trimmed, allFlags(ROOT, true))[0];
  if (first !== undefined && matchCompleteWord(first)) {
    if (toCompleteIn.startsWith('-') && !toCompleteIn.includes('=')) {
      const flags = [...sortByName([...GLOBAL_FLAGS]), helpFlag(COMPLETE)];
      return { items: flags.flatMap((f) => flagNameCompletions(f, toCompleteIn)), directive: DirectiveNoFileComp };
    }
    return { items: [], directive: DirectiveDefault };
  }

  const found = findCommand(trimmed);
  if (found.error) {
    return { items: [], directive: DirectiveDefault, error: `Unable to find a command for arguments: ${goList(trimmed)}` };
  }
  const path = found.path;
  const cmd = path[path.length - 1]!;
  const isRoot = path.length === 1;
  const specs = allFlags(cmd, isRoot, path.slice(0, -1));
  const lookupLong = (name: string) => specs.find((s) => s.name === name);

  // checkIfFlagCompletion: is the word a flag's value?
  let finalArgs = found.args;
  let toComplete = toCompleteIn;
  let flag: FlagSpec | undefined;
  let flagErr: { text: string; compError: boolean } | undefined;
  {
    let flagName = '';
    let withEqual = false;
    let trimmedArgs = finalArgs;
    let handled = false;
    if (toComplete.startsWith('-')) {
      const eq = toComplete.indexOf('=');
      if (eq >= 0) {
        flagName = toComplete.slice(0, eq).startsWith('--') ? toComplete.slice(2, eq) : toComplete.slice(eq - 1, eq);
        toComplete = toComplete.slice(eq + 1);
        withEqual = true;
      } else {
        handled = true; // a flag name is being typed
      }
    }
    if (!handled) {
      if (flagName === '' && finalArgs.length > 0) {
        const prev = finalArgs[finalArgs.length - 1]!;
        if (isFlagArg(prev) && !prev.includes('=')) {
          flagName = prev.startsWith('--') ? prev.slice(2) : prev.slice(-1);
          trimmedArgs = finalArgs.slice(0, -1);
        }
      }
      if (flagName !== '') {
        let f: FlagSpec | undefined;
        if (flagName.length === 1) {
          const s = specs.find((x) => x.short === flagName);
          f = s ? lookupLong(s.name) : undefined;
        } else {
          f = lookupLong(flagName);
        }
        if (!f) {
          flagErr = { text: `Subcommand '${commandName(cmd)}' does not support flag '${flagName}'`, compError: true };
          toComplete = toCompleteIn;
        } else {
          flag = f;
          finalArgs = trimmedArgs;
          if (!withEqual && f.type === 'bool') {
            // a boolean flag takes no separate value: complete an argument instead
            finalArgs = found.args;
            flag = undefined;
          }
        }
      }
    }
  }

  // Was `--` given before? Then the appended `--` counts as an argument.
  let withDash = -1;
  try {
    withDash = parseFlags([...finalArgs, '--'], specs).args.length;
  } catch {
    /* ignored, as cobra does */
  }
  let parsed;
  try {
    parsed = parseFlags(finalArgs, specs);
  } catch (e) {
    if (e instanceof CliError) {
      return { items: [], directive: DirectiveDefault, error: `Error while parsing flags from args ${goList(finalArgs)}: ${e.message}` };
    }
    throw e;
  }
  const flagCompletion = !(withDash > parsed.args.length);
  if (flagErr && !(flagErr.compError && !flagCompletion)) {
    return { items: [], directive: DirectiveDefault, error: flagErr.text };
  }
  // cobra looks at whether --help was given, not at its value
  if (parsed.values.changed.has('help')) return { items: [], directive: DirectiveNoFileComp };
  finalArgs = parsed.args;

  if (!flag && toComplete.startsWith('-') && !toComplete.includes('=') && flagCompletion) {
    const items: string[] = [];
    for (const f of [...inheritedFlags(path), ...ownFlags(path)]) {
      if (!parsed.values.changed.has(f.name) || f.type === 'stringSlice') items.push(...flagNameCompletions(f, toComplete));
    }
    const directive = items.length === 1 && items[0]!.endsWith('=') ? DirectiveNoSpace : DirectiveNoFileComp;
    return { items, directive };
  }

  const items: string[] = [];
  let directive = DirectiveDefault;
  if (!flag) {
    const localSet = isRoot
      ? parsed.values.changed.has('help')
      : [...(cmd.flags ?? []), helpFlag(commandName(cmd))].some((f) => parsed.values.changed.has(f.name));
    if (finalArgs.length === 0 && !localSet) {
      for (const sub of sortedSubcommands(cmd)) {
        if (commandName(sub).startsWith(toComplete)) items.push(`${commandName(sub)}\t${sub.short}`);
        directive = DirectiveNoFileComp;
      }
    }
  }
  if (flag && flagCompletion) return { items, directive };
  if (!isRoot && path.length === 2 && commandName(cmd) === 'help') {
    const h = helpCompletions(finalArgs, toComplete);
    return { items: [...items, ...h.items], directive: h.directive };
  }
  if (noFileCompletions(cmd)) return { items, directive: DirectiveNoFileComp };
  return { items, directive };
}

/** Appends a debug line to $BASH_COMP_DEBUG_FILE when set (cobra's CompDebug). */
function debugFile(env: NodeJS.ProcessEnv, msg: string): void {
  const p = env.BASH_COMP_DEBUG_FILE;
  if (!p) return;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
    fs.appendFileSync(p, msg, { mode: 0o644 });
  } catch {
    /* ignored, as cobra does */
  }
}

/**
 * Runs `__complete` / `__completeNoDesc`: writes the candidates and the directive to
 * `out` and cobra's notes to stderr.
 * @returns the exit code (0; without any argument, cobra's MinimumNArgs(1) error,
 *   printed with the usage as etcdctl prints argument errors, is thrown as CliError)
 */
export function runComplete(req: CompleteRequest, out: Output, writeErr: (s: string) => void, env: NodeJS.ProcessEnv): number {
  if (req.args.length === 0) {
    const msg = 'requires at least 1 arg(s), only received 0';
    writeErr(`Error: ${msg}\n`);
    out.write(renderHelp([ROOT, COMPLETE_SPEC], GLOBAL_FLAGS));
    out.flush();
    writeErr('\n');
    throw new CliError(ExitError, msg);
  }
  const c = getCompletions(req.args);
  if (c.error) {
    const msg = `[Debug] [Error] ${c.error}\n`;
    debugFile(env, msg);
    writeErr(msg);
  }
  let text = '';
  for (let item of c.items) {
    if (req.noDesc) item = item.split('\t')[0]!;
    item = item.split('\n')[0]!.trim();
    text += item + '\n';
  }
  text += `:${c.directive}\n`;
  out.write(text);
  out.flush();
  writeErr(`Completion ended with directive: ${directiveNames(c.directive)}\n`);
  return 0;
}
