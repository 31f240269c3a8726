/**
 * @module server/etcdserver/api/v2http/form
 * Go's url.ParseQuery as the v2 handlers' Request.ParseForm uses it.
 */

/** url.QueryUnescape; throws Error with Go's text for a bad escape. */
function queryUnescape(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '%') {
      const h = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) {
        throw new Error(`invalid URL escape ${JSON.stringify(s.slice(i, i + 3))}`);
      }
      bytes.push(parseInt(h, 16));
      i += 2;
    } else if (c === '+') {
      bytes.push(0x20);
    } else {
      // raw bytes arrive as latin1 characters (the body, Node's request line)
      const code = c.charCodeAt(0);
      if (code < 256) bytes.push(code);
      else for (const b of Buffer.from(c, 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** url.Values: each key's values in order. */
export type Form = Map<string, string[]>;

/** url.ParseQuery into `form` (appending); returns the first error's text, if any. */
export function parseQuery(form: Form, query: string): string | undefined {
  let first: string | undefined;
  for (const part of query.split('&')) {
    if (part === '') continue;
    if (part.includes(';')) {
      first ??= 'invalid semicolon separator in query';
      continue;
    }
    const eq = part.indexOf('=');
    const rawKey = eq < 0 ? part : part.slice(0, eq);
    const rawVal = eq < 0 ? '' : part.slice(eq + 1);
    let key: string;
    let val: string;
    try {
      key = queryUnescape(rawKey);
      val = queryUnescape(rawVal);
    } catch (e) {
      first ??= (e as Error).message;
      continue;
    }
    const l = form.get(key);
    if (l) l.push(val);
    else form.set(key, [val]);
  }
  return first;
}
