/**
 * @module cli/help
 * Renders help exactly as etcdctl 3.4 does: the rkt-style template of
 * etcdctl/ctlv3/help.go (NAME, USAGE, VERSION, API VERSION, COMMANDS, DESCRIPTION,
 * OPTIONS, GLOBAL OPTIONS) passed through Go's tabwriter.
 */

import { commandName, type CommandSpec } from './command.js';
import { formatDefault, type FlagSpec } from './flags.js';
import { tabwrite } from './tabwriter.js';
import { API_VERSION, VERSION } from './version.js';

/** The `-h, --help` flag cobra adds to every command. */
export function helpFlag(name: string): FlagSpec {
  return { name: 'help', short: 'h', type: 'bool', default: false, usage: `help for ${name}` };
}

/** One block of flag usages, sorted by name, as etcdctl's etcdFlagUsages renders them. */
export function flagUsages(specs: readonly FlagSpec[]): string {
  const sorted = [...specs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let out = '';
  for (const f of sorted) {
    let line = f.short ? `  -${f.short}, --${f.name}` : `      --${f.name}`;
    const def = formatDefault(f);
    line += f.type === 'bool' ? `[=${def}]` : `=${def}`;
    out += `${line}\t${f.usage}\n`;
  }
  return out;
}

/**
 * The help text of `path` (the chain of specs from the root to the command).
 * @param globalFlags the root's persistent flags
 */
export function renderHelp(
  path: readonly CommandSpec[],
  globalFlags: readonly FlagSpec[],
  opts: { withHelpFlag?: boolean } = {},
): string {
  const cmd = path[path.length - 1]!;
  const isRoot = path.length === 1;
  const names = path.map(commandName);
  const relName = names.slice(1).join(' ');
  const hasSub = (cmd.subcommands?.length ?? 0) > 0;

  let t = 'NAME:\n';
  t += isRoot ? `\t${names[0]} - ${cmd.short}\n` : `\t${relName} - ${cmd.short}\n`;
  t += '\nUSAGE:\n';
  const useLine = isRoot ? cmd.use : `${names.slice(0, -1).join(' ')} ${cmd.use}`;
  t += `\t${useLine.includes('[flags]') || cmd.disableFlagsInUseLine ? useLine : useLine + ' [flags]'}\n`;
  if (isRoot) t += `\nVERSION:\n\t${VERSION}\n`;
  if (hasSub) {
    t += `\nAPI VERSION:\n\t${API_VERSION}\n`;
    t += '\n\nCOMMANDS:\n';
    const walk = (c: CommandSpec, prefix: string[]) => {
      for (const sub of sortedSubcommands(c)) {
        const p = [...prefix, commandName(sub)];
        if (sub.run) t += `\t${p.join(' ')}\t${sub.short}\n`;
        walk(sub, p);
      }
    };
    walk(cmd, []);
  }
  if (cmd.long) {
    t += '\nDESCRIPTION:\n';
    for (const line of cmd.long.replace(/^[\n\t ]+|[\n\t ]+$/g, '').split('\n')) t += `\t${line}\n`;
  }
  // cobra adds the -h/--help flag to a command only when that command is executed, so
  // `etcdctl help bogus` prints the root usage without it.
  const help = opts.withHelpFlag === false ? [] : [helpFlag(commandName(cmd))];
  const local = isRoot ? [...globalFlags, ...help] : [...(cmd.flags ?? []), ...(cmd.persistentFlags ?? []), ...help];
  t += '\nOPTIONS:\n' + flagUsages(local);
  const inherited = path.slice(1, -1).flatMap((c) => c.persistentFlags ?? []);
  if (!isRoot) t += '\nGLOBAL OPTIONS:\n' + flagUsages([...inherited, ...globalFlags]);
  t += '\n';
  return tabwrite(t);
}

/** Subcommands sorted by name, as cobra lists them. */
export function sortedSubcommands(c: CommandSpec): CommandSpec[] {
  return [...(c.subcommands ?? [])].sort((a, b) => {
    const x = commandName(a);
    const y = commandName(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}
