/**
 * @module cli/flags
 * Declarative flag specs and a parser with spf13/pflag's semantics, which etcdctl uses:
 * `--name=value`, `--name value`, booleans as `--name` or `--name=false`, shorthands
 * (`-w json`, `-wjson`, `-w=json`, grouped booleans `-ih`), `--` ending flags, flags
 * interspersed with arguments, and pflag's exact error texts.
 *
 * Why not commander: etcdctl scripts depend on pflag details that commander does not
 * reproduce (its error texts, int parsing with Go base prefixes, `[=false]` help
 * rendering, `--` position reporting for `put`/`watch`, persistent flags accepted
 * anywhere on the line, cobra's prefix matching of command names).
 */

import { CliError, ExitError } from './exit-codes.js';
import {
  formatGoDuration,
  goQuote,
  GoParseError,
  parseGoBool,
  parseGoDuration,
  parseGoInt,
  parseGoUint,
} from './go-format.js';

/** Flag value types, named after pflag's. */
export type FlagType = 'bool' | 'string' | 'int' | 'uint' | 'duration' | 'stringSlice';

/** One flag as declared by a command (or globally). */
export interface FlagSpec {
  /** long name without dashes, e.g. `write-out` */
  name: string;
  /** one-letter shorthand without dash, e.g. `w` */
  short?: string;
  type: FlagType;
  /** default value: boolean, string, bigint (int/uint), number of ns (duration), string[] */
  default: FlagValue;
  /** help text, exactly as etcdctl's */
  usage: string;
  /** not shown in help */
  hidden?: boolean;
}

export type FlagValue = boolean | string | bigint | number | string[];

/** Parsed values by long name, plus which flags were set on the command line. */
export class FlagValues {
  private readonly values = new Map<string, FlagValue>();
  /** names of flags given on the command line (pflag's `Changed`) */
  readonly changed = new Set<string>();
  /** specs by long name */
  readonly specs = new Map<string, FlagSpec>();

  constructor(specs: readonly FlagSpec[]) {
    for (const s of specs) {
      this.specs.set(s.name, s);
      this.values.set(s.name, Array.isArray(s.default) ? [...s.default] : s.default);
    }
  }

  bool(name: string): boolean { return this.get(name) as boolean; }
  string(name: string): string { return this.get(name) as string; }
  int(name: string): bigint { return this.get(name) as bigint; }
  /** duration in nanoseconds */
  duration(name: string): number { return this.get(name) as number; }
  strings(name: string): string[] { return this.get(name) as string[]; }

  get(name: string): FlagValue {
    if (!this.values.has(name)) throw new Error(`flag accessed but not defined: ${name}`);
    return this.values.get(name)!;
  }

  /**
   * Sets a flag from its textual form, as pflag's `Value.Set`. A string slice flag's
   * first Set replaces the default and later ones append.
   * @throws GoParseError with the underlying Go parse error text
   */
  setFromString(name: string, raw: string, markChanged = true): void {
    const spec = this.specs.get(name)!;
    let v: FlagValue;
    switch (spec.type) {
      case 'bool': v = parseGoBool(raw); break;
      case 'string': v = raw; break;
      case 'int': v = parseGoInt(raw, 0); break;
      case 'uint': v = parseGoUint(raw, 0); break;
      case 'duration': v = parseGoDuration(raw); break;
      case 'stringSlice': {
        const items = raw === '' ? [] : parseCsvLine(raw);
        v = this.changed.has(name) ? [...(this.values.get(name) as string[]), ...items] : items;
        break;
      }
    }
    this.values.set(name, v);
    if (markChanged) this.changed.add(name);
  }
}

/** Reads one CSV record as Go's encoding/csv does for pflag string slices. */
function parseCsvLine(s: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (s[i] === '"') {
      i++;
      for (;;) {
        if (i >= s.length) throw new GoParseError(`parse error on line 1, column ${i + 1}: extraneous or missing " in quoted-field`);
        if (s[i] === '"') {
          if (s[i + 1] === '"') { field += '"'; i += 2; continue; }
          i++;
          break;
        }
        field += s[i++];
      }
      if (i < s.length && s[i] !== ',') throw new GoParseError(`parse error on line 1, column ${i + 1}: extraneous or missing " in quoted-field`);
    } else {
      while (i < s.length && s[i] !== ',') field += s[i++];
    }
    out.push(field);
    if (i >= s.length) break;
    i++; // comma
  }
  return out;
}

/** Help rendering of a default, as etcdctl's etcdFlagUsages prints it. */
export function formatDefault(spec: FlagSpec): string {
  const d = spec.default;
  switch (spec.type) {
    case 'string': return goQuote(d as string);
    case 'bool': return String(d);
    case 'int':
    case 'uint': return String(d);
    case 'duration': return formatGoDuration(d as number);
    case 'stringSlice': return `[${(d as string[]).join(',')}]`;
  }
}

/** Result of parsing a command line against a set of flags. */
export interface ParsedArgs {
  values: FlagValues;
  args: string[];
  /** index in `args` where `--` appeared, or -1 (cobra's ArgsLenAtDash) */
  argsLenAtDash: number;
}

/** pflag's name for a flag in `invalid argument` errors. */
function flagDisplayName(spec: FlagSpec): string {
  return spec.short ? `-${spec.short}, --${spec.name}` : `--${spec.name}`;
}

/**
 * Parses `argv` (command words already removed) against `specs`, pflag style.
 * @throws CliError(ExitError) with pflag's message (`unknown flag: --x`,
 *   `flag needs an argument: --x`, `invalid argument "v" for "--x" flag: ...`);
 *   the caller decides how to report it (cobra prints usage first).
 */
export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[]): ParsedArgs {
  const values = new FlagValues(specs);
  const byShort = new Map<string, FlagSpec>();
  for (const s of specs) if (s.short) byShort.set(s.short, s);
  const args: string[] = [];
  let argsLenAtDash = -1;

  const set = (spec: FlagSpec, raw: string) => {
    try {
      values.setFromString(spec.name, raw);
    } catch (e) {
      if (e instanceof GoParseError) {
        throw new CliError(ExitError, `invalid argument ${goQuote(raw)} for ${goQuote(flagDisplayName(spec))} flag: ${e.message}`);
      }
      throw e;
    }
  };

  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      argsLenAtDash = args.length;
      args.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const body = a.slice(2);
      const eq = body.indexOf('=');
      const name = eq >= 0 ? body.slice(0, eq) : body;
      if (name.length === 0 || name.startsWith('-') || name.startsWith('=')) {
        throw new CliError(ExitError, `bad flag syntax: ${a}`);
      }
      const spec = values.specs.get(name);
      if (!spec) throw new CliError(ExitError, `unknown flag: --${name}`);
      if (eq >= 0) set(spec, body.slice(eq + 1));
      else if (spec.type === 'bool') set(spec, 'true');
      else if (i + 1 < argv.length) set(spec, argv[++i]!);
      else throw new CliError(ExitError, `flag needs an argument: ${a}`);
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      let rest = a.slice(1);
      while (rest.length > 0) {
        const c = rest[0]!;
        const spec = byShort.get(c);
        if (!spec) throw new CliError(ExitError, `unknown shorthand flag: '${c}' in -${rest}`);
        if (rest.length > 2 && rest[1] === '=') {
          set(spec, rest.slice(2));
          rest = '';
        } else if (spec.type === 'bool') {
          set(spec, 'true');
          rest = rest.slice(1);
        } else if (rest.length > 1) {
          set(spec, rest.slice(1));
          rest = '';
        } else if (i + 1 < argv.length) {
          set(spec, argv[++i]!);
          rest = '';
        } else {
          throw new CliError(ExitError, `flag needs an argument: '${c}' in -${c}`);
        }
      }
      continue;
    }
    args.push(a);
  }
  return { values, args, argsLenAtDash };
}
