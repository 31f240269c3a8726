/**
 * @module server/etcdserver/api/v2auth/json
 * The JSON of the v2 auth API as Go's encoding/json reads and writes it for
 * etcd 3.4's v2auth.User and v2auth.Role: a nil slice is `null` (kept apart
 * from an empty one, which is `[]`), `omitempty` fields are left out, object
 * keys match the struct fields case-insensitively with the last one winning,
 * unknown keys are skipped, and a value of the wrong type is an error. The
 * request decoder reads the body's first JSON value and ignores what follows
 * (json.Decoder.Decode); stored values are read strictly (json.Unmarshal).
 */
import { goJsonString } from '../../../../util/etcd-format/members.js';

/** v2auth.User: `roles`, `grant` and `revoke` are null for Go's nil slice. */
export interface V2AuthUser {
  user: string;
  /** The bcrypt hash once stored; the plain password in a request; '' for none. */
  password: string;
  roles: string[] | null;
  grant: string[] | null;
  revoke: string[] | null;
}

/** v2auth.RWPermission: key globs (a trailing `*` matches any suffix). */
export interface V2RWPermission {
  read: string[] | null;
  write: string[] | null;
}

/** v2auth.Permissions. */
export interface V2Permissions {
  kv: V2RWPermission;
}

/** v2auth.Role: `grant` and `revoke` are null for Go's nil pointer. */
export interface V2AuthRole {
  role: string;
  permissions: V2Permissions;
  grant: V2Permissions | null;
  revoke: V2Permissions | null;
}

// ---- encoding (json.Marshal / json.Encoder without the newline) ----

function list(l: readonly string[] | null): string {
  return l === null ? 'null' : `[${l.map(goJsonString).join(',')}]`;
}

function permissionsJson(p: V2Permissions): string {
  return `{"kv":{"read":${list(p.kv.read)},"write":${list(p.kv.write)}}}`;
}

/** json.Marshal(v2auth.User): password, grant and revoke left out when empty. */
export function userJson(u: V2AuthUser): string {
  let s = `{"user":${goJsonString(u.user)}`;
  if (u.password !== '') s += `,"password":${goJsonString(u.password)}`;
  s += `,"roles":${list(u.roles)}`;
  if (u.grant !== null && u.grant.length > 0) s += `,"grant":${list(u.grant)}`;
  if (u.revoke !== null && u.revoke.length > 0) s += `,"revoke":${list(u.revoke)}`;
  return s + '}';
}

/** json.Marshal(v2auth.Role): grant and revoke left out when nil. */
export function roleJson(r: V2AuthRole): string {
  let s = `{"role":${goJsonString(r.role)},"permissions":${permissionsJson(r.permissions)}`;
  if (r.grant !== null) s += `,"grant":${permissionsJson(r.grant)}`;
  if (r.revoke !== null) s += `,"revoke":${permissionsJson(r.revoke)}`;
  return s + '}';
}

// ---- decoding ----

/** A parsed JSON value; objects keep their members in order (duplicates too). */
type JValue = null | boolean | number | string | JValue[] | { entries: Array<[string, JValue]> };

/** Go's json syntax or type error (the text is not shown to clients). */
export class GoJsonError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'GoJsonError';
  }
}

class Parser {
  i = 0;
  constructor(private readonly s: string) {}

  ws(): void {
    while (this.i < this.s.length && ' \t\r\n'.includes(this.s[this.i]!)) this.i++;
  }

  fail(): never {
    throw new GoJsonError(this.i >= this.s.length ? 'unexpected end of JSON input' : `invalid character ${JSON.stringify(this.s[this.i])}`);
  }

  value(): JValue {
    this.ws();
    const c = this.s[this.i];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    for (const [lit, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.s.startsWith(lit, this.i)) {
        this.i += lit.length;
        return v;
      }
    }
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.s.slice(this.i, this.i + 400));
    if (m && m[0] !== '' && m[0] !== '-') {
      this.i += m[0].length;
      return Number(m[0]);
    }
    return this.fail();
  }

  string(): string {
    const start = this.i;
    this.i++;
    for (;;) {
      if (this.i >= this.s.length) this.fail();
      const c = this.s.charCodeAt(this.i);
      if (c === 0x22) break;
      if (c < 0x20) this.fail();
      if (c === 0x5c) {
        const e = this.s[this.i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(this.s.slice(this.i + 2, this.i + 6))) {
            this.i += 2;
            this.fail();
          }
          this.i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) {
          this.i++;
          this.fail();
        }
        this.i += 2;
        continue;
      }
      this.i++;
    }
    this.i++;
    return JSON.parse(this.s.slice(start, this.i)) as string;
  }

  array(): JValue[] {
    this.i++;
    const out: JValue[] = [];
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return out;
    }
    for (;;) {
      out.push(this.value());
      this.ws();
      const c = this.s[this.i];
      this.i++;
      if (c === ']') return out;
      if (c !== ',') {
        this.i--;
        this.fail();
      }
    }
  }

  object(): { entries: Array<[string, JValue]> } {
    this.i++;
    const entries: Array<[string, JValue]> = [];
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return { entries };
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail();
      const k = this.string();
      this.ws();
      if (this.s[this.i] !== ':') this.fail();
      this.i++;
      entries.push([k, this.value()]);
      this.ws();
      const c = this.s[this.i];
      this.i++;
      if (c === '}') return { entries };
      if (c !== ',') {
        this.i--;
        this.fail();
      }
    }
  }
}

/** The first JSON value of `text`; with `strict`, nothing but spaces may follow (json.Unmarshal). */
function parse(text: string, strict: boolean): JValue {
  const p = new Parser(text);
  const v = p.value();
  if (strict) {
    p.ws();
    if (p.i < text.length) p.fail();
  }
  return v;
}

function isObject(v: JValue): v is { entries: Array<[string, JValue]> } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Calls `set` for each member whose key names one of `fields` (case-insensitively), in order. */
function eachField(v: JValue, fields: readonly string[], set: (field: string, value: JValue) => void): void {
  if (v === null) return;
  if (!isObject(v)) throw new GoJsonError('json: cannot unmarshal into Go value of type struct');
  for (const [k, x] of v.entries) {
    const f = fields.find((n) => n === k) ?? fields.find((n) => n.toLowerCase() === k.toLowerCase());
    if (f !== undefined) set(f, x);
  }
}

/** A string field: null leaves it as it was. */
function str(v: JValue, old: string): string {
  if (v === null) return old;
  if (typeof v !== 'string') throw new GoJsonError('json: cannot unmarshal into Go struct field of type string');
  return v;
}

/** A []string field: null is nil; a null element is "". */
function strList(v: JValue): string[] | null {
  if (v === null) return null;
  if (!Array.isArray(v)) throw new GoJsonError('json: cannot unmarshal into Go struct field of type []string');
  return v.map((x) => str(x, ''));
}

function decodePermissions(v: JValue, into: V2Permissions): void {
  eachField(v, ['kv'], (_f, kv) =>
    eachField(kv, ['read', 'write'], (f, x) => {
      if (f === 'read') into.kv.read = strList(x);
      else into.kv.write = strList(x);
    }),
  );
}

function emptyPermissions(): V2Permissions {
  return { kv: { read: null, write: null } };
}

/** A User from JSON text. @throws GoJsonError on a syntax or type error */
export function decodeUser(text: string, strict: boolean): V2AuthUser {
  const u: V2AuthUser = { user: '', password: '', roles: null, grant: null, revoke: null };
  eachField(parse(text, strict), ['user', 'password', 'roles', 'grant', 'revoke'], (f, x) => {
    if (f === 'user') u.user = str(x, u.user);
    else if (f === 'password') u.password = str(x, u.password);
    else u[f as 'roles' | 'grant' | 'revoke'] = strList(x);
  });
  return u;
}

/** A Role from JSON text (a repeated grant/revoke object fills the same one, as Go does). @throws GoJsonError */
export function decodeRole(text: string, strict: boolean): V2AuthRole {
  const r: V2AuthRole = { role: '', permissions: emptyPermissions(), grant: null, revoke: null };
  eachField(parse(text, strict), ['role', 'permissions', 'grant', 'revoke'], (f, x) => {
    if (f === 'role') r.role = str(x, r.role);
    else if (f === 'permissions') decodePermissions(x, r.permissions);
    else {
      const k = f as 'grant' | 'revoke';
      if (x === null) r[k] = null;
      else {
        const p = r[k] ?? emptyPermissions();
        decodePermissions(x, p);
        r[k] = p;
      }
    }
  });
  return r;
}

/** json.Unmarshal into a bool (null leaves it false). @throws GoJsonError */
export function decodeBool(text: string): boolean {
  const v = parse(text, true);
  if (v === null) return false;
  if (typeof v !== 'boolean') throw new GoJsonError('json: cannot unmarshal into Go value of type bool');
  return v;
}
