/**
 * @module cli/command
 * The shape every command file exports, and the context a command runs with.
 * Commands are declarative specs (like a cobra.Command): `use`, `short`, `long`,
 * `flags`, and `run`. `run` parses its arguments, calls the client, and writes output
 * only through the printer returned by `ctx.display()`.
 */

import type { FlagSpec, FlagValues } from './flags.js';
import type { Printer } from './printer/printer.js';
import type { EtcdClient } from '../client/client.js';
import type { GlobalOptions } from './global-flags.js';

/** A command or a group of subcommands, as in cobra. */
export interface CommandSpec {
  /** cobra's `Use`: the name followed by the argument synopsis, e.g. `get [options] <key> [range_end]` */
  use: string;
  /** one-line description shown in command lists */
  short: string;
  /** long description shown under DESCRIPTION: in help */
  long?: string;
  /** the command's own (local) flags; `--help` is added automatically */
  flags?: FlagSpec[];
  /** cobra persistent flags: shown in this command's OPTIONS, inherited (as GLOBAL OPTIONS) by its subcommands */
  persistentFlags?: FlagSpec[];
  /** subcommands (e.g. `lease grant`) */
  subcommands?: CommandSpec[];
  /** cobra's DisableFlagsInUseLine: help's USAGE line gets no ` [flags]` suffix */
  disableFlagsInUseLine?: boolean;
  /** needs neither printers nor a client (e.g. `version`): skips loading them */
  light?: boolean;
  /**
   * Called as soon as the command is identified, before its flags are parsed and the
   * modules it needs are loaded (e.g. lock/elect install their signal handlers);
   * `flush` writes out what was printed so far
   */
  onFound?: (flush: () => void) => void;
  /** runs the command; absent for pure groups like `lease` */
  run?: (ctx: CommandContext) => Promise<void>;
}

/** The name of a command: the first word of `use`. */
export function commandName(spec: CommandSpec): string {
  return spec.use.split(' ')[0]!;
}

/** Buffered output stream (stdout). Writes are flushed at exit, or by `flush()`. */
export interface Output {
  write(chunk: string | Uint8Array): void;
  flush(): void;
}

/** Everything a command's `run` receives. */
export interface CommandContext {
  /** command path from the root, e.g. ['lease', 'grant'] */
  path: string[];
  /** positional arguments */
  args: string[];
  /** index in args where `--` appeared, or -1 */
  argsLenAtDash: number;
  /** local and global flag values */
  flags: FlagValues;
  /** process environment (ETCDCTL_* already applied to global flags lazily) */
  env: NodeJS.ProcessEnv;
  /** stdout */
  out: Output;
  /** writes to stderr immediately */
  errWrite(s: string): void;
  /** reads all of stdin */
  readStdin(): Promise<Buffer>;
  /** global options after ETCDCTL_* env are applied (etcdctl's clientConfigFromCmd) */
  globals(): GlobalOptions;
  /** the printer for -w/--hex; throws CliError(ExitBadFeature) for an unknown format */
  display(opts?: { valueOnly?: boolean }): Printer;
  /** a connected client (etcdctl's mustClientFromCmd); throws CliError on config errors */
  client(): Promise<EtcdClient>;
}
