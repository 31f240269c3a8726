/**
 * Flag value types of the `etcd` command line: Go's flag basics (string, bool,
 * uint, int, int64, duration: flag.go) and etcd's own (etcd pkg/flags:
 * UniqueURLs, SelectiveStringValue, UniqueStringsValue, StringsValue,
 * uint32Value, IgnoredFlag). Error messages are the ones Go/etcd print.
 */
import { type FlagValue, GoNumError, formatGoDuration, parseGoBool, parseGoDuration, parseGoInt, parseGoUint } from './go-flag.js';
import { type GoUrl, goUrlString, newUrls } from './urls.js';

/** Go flag's wrapping of strconv errors: "parse error" / "value out of range". */
function numError(e: unknown): Error {
  if (e instanceof GoNumError) return new Error(e.kind === 'invalid syntax' ? 'parse error' : 'value out of range');
  return e as Error;
}

export class StringValue implements FlagValue {
  constructor(public value: string) {}
  set(s: string): void {
    this.value = s;
  }
  toString(): string {
    return this.value;
  }
}

export class BoolValue implements FlagValue {
  readonly isBool = true;
  constructor(public value: boolean) {}
  set(s: string): void {
    const b = parseGoBool(s);
    if (b === undefined) throw new Error('parse error');
    this.value = b;
  }
  toString(): string {
    return String(this.value);
  }
}

/** Go uint / uint64 flag (64-bit): the value is a JS number (exact up to 2^53). */
export class UintValue implements FlagValue {
  constructor(public value: number, private readonly bits = 64) {}
  set(s: string): void {
    try {
      this.value = Number(parseGoUint(s, this.bits));
    } catch (e) {
      throw numError(e);
    }
  }
  toString(): string {
    return String(this.value);
  }
}

/** Go int / int64 flag. */
export class IntValue implements FlagValue {
  constructor(public value: number) {}
  set(s: string): void {
    try {
      this.value = Number(parseGoInt(s, 64));
    } catch (e) {
      throw numError(e);
    }
  }
  toString(): string {
    return String(this.value);
  }
}

/** Go time.Duration flag; `ns` in nanoseconds. */
export class DurationValue implements FlagValue {
  constructor(public ns: number) {}
  set(s: string): void {
    try {
      this.ns = parseGoDuration(s);
    } catch {
      throw new Error('parse error');
    }
  }
  toString(): string {
    return formatGoDuration(this.ns);
  }
}

/** etcd flags.uint32Value: raw strconv error text on failure (`strconv.ParseUint: parsing "-1": invalid syntax`). */
export class Uint32Value implements FlagValue {
  constructor(public value: number) {}
  set(s: string): void {
    try {
      this.value = Number(parseGoUint(s, 32));
    } catch (e) {
      if (e instanceof GoNumError && e.kind === 'value out of range') this.value = 0xffffffff;
      else this.value = 0;
      throw e;
    }
  }
  toString(): string {
    return String(this.value);
  }
}

/** etcd flags.SelectiveStringValue: one of a fixed set, else "invalid value". */
export class SelectiveStringValue implements FlagValue {
  value: string;
  readonly valids: readonly string[];
  constructor(...valids: string[]) {
    this.valids = [...valids].sort();
    this.value = valids[0];
  }
  set(s: string): void {
    if (!this.valids.includes(s)) throw new Error('invalid value');
    this.value = s;
  }
  toString(): string {
    return this.value;
  }
}

/**
 * etcd flags.UniqueURLs: a comma-separated URL list (types.NewURLs), kept as the
 * sorted set of string forms plus the parsed list. Strings listed as `allowed`
 * (e.g. "" or "*") are accepted without parsing and do not replace the list.
 */
export class UniqueUrlsValue implements FlagValue {
  values = new Set<string>();
  urls: GoUrl[] = [];
  private readonly allowed: Set<string>;
  constructor(initial: string, ...allowed: string[]) {
    this.allowed = new Set(allowed);
    if (initial !== '') this.set(initial);
  }
  set(s: string): void {
    if (this.values.has(s)) return;
    if (this.allowed.has(s)) {
      this.values.add(s);
      return;
    }
    const us = newUrls(s.split(','));
    this.values = new Set(us.map(goUrlString));
    this.urls = us;
  }
  toString(): string {
    return [...this.values].sort().join(',');
  }
}

/** etcd flags.UniqueStringsValue: a comma-separated set, reported sorted. */
export class UniqueStringsValue implements FlagValue {
  values = new Set<string>();
  constructor(initial: string) {
    if (initial !== '') this.set(initial);
  }
  set(s: string): void {
    this.values = new Set(s.split(','));
  }
  sorted(): string[] {
    return [...this.values].sort();
  }
  toString(): string {
    return this.sorted().join(',');
  }
}

/** etcd flags.StringsValue: a comma-separated list, order kept. */
export class StringsValue implements FlagValue {
  values: string[] = [];
  constructor(initial: string) {
    if (initial !== '') this.set(initial);
  }
  set(s: string): void {
    this.values = s.split(',');
  }
  toString(): string {
    return this.values.join(',');
  }
}

/**
 * etcd flags.IgnoredFlag: a boolean-style flag kept for old command lines;
 * setting it calls `warn` with etcd's text `flag "-<name>" is no longer supported - ignoring.`
 */
export class IgnoredFlagValue implements FlagValue {
  readonly isBool = true;
  constructor(private readonly name: string, private readonly warn: (msg: string) => void) {}
  set(): void {
    this.warn(`flag "-${this.name}" is no longer supported - ignoring.`);
  }
  toString(): string {
    return '';
  }
}
