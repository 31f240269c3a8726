// A small datadriven test-file format (the shape of cockroachdb/datadriven, which
// etcd-io/raft's transcript tests use), written for these tests:
//
//   # a comment (lines starting with '#' between blocks are kept verbatim)
//   command arg key=value key=(a,b,c)
//   optional input lines (one more command each, for multi-command blocks)
//   ----
//   expected output, verbatim, up to the first empty line
//
// A block's expected output never contains an empty line (the harness refuses to
// produce one), so one `----` separator is enough. runFile() compares every block's
// actual output with the expected one; with rewrite=true it writes the actual outputs
// back into the file instead (RAFT_REWRITE=1), keeping comments and commands as written.

/** One argument: `key`, `key=value` or `key=(v1,v2)`; `vals` is empty for a bare key. */
export interface CmdArg {
  readonly key: string;
  readonly vals: readonly string[];
}

/** One command line: its name and arguments. */
export interface CmdLine {
  readonly cmd: string;
  readonly args: readonly CmdArg[];
}

/** One block of a test file. */
export interface Block {
  /** 1-based line number of the command line. */
  readonly line: number;
  /** Comment and blank lines preceding the block, verbatim. */
  readonly preamble: readonly string[];
  readonly command: CmdLine;
  /** The raw command line text (kept on rewrite). */
  readonly commandText: string;
  /** Extra command lines (input) between the command and `----`. */
  readonly input: readonly string[];
  readonly expected: string;
}

/** A parsed file: its blocks and the trailing comment lines. */
export interface TestFile {
  readonly blocks: readonly Block[];
  readonly trailer: readonly string[];
}

/** Splits a command line into its name and arguments; throws Error on unbalanced parentheses. */
export function parseLine(text: string): CmdLine {
  const tokens: string[] = [];
  let cur = '';
  let depth = 0;
  for (const ch of text.trim()) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (depth < 0) throw new Error(`unbalanced ')' in ${JSON.stringify(text)}`);
    if (/\s/.test(ch) && depth === 0) {
      if (cur !== '') tokens.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  if (depth !== 0) throw new Error(`unbalanced '(' in ${JSON.stringify(text)}`);
  if (cur !== '') tokens.push(cur);
  if (tokens.length === 0) throw new Error('empty command line');
  const [cmd, ...rest] = tokens;
  const args = rest.map((tok): CmdArg => {
    const eq = tok.indexOf('=');
    if (eq < 0) return { key: tok, vals: [] };
    const key = tok.slice(0, eq);
    let v = tok.slice(eq + 1);
    if (v.startsWith('(') && v.endsWith(')')) {
      v = v.slice(1, -1).trim();
      return { key, vals: v === '' ? [] : v.split(/[\s,]+/).filter((s) => s !== '') };
    }
    return { key, vals: [v] };
  });
  return { cmd: cmd!, args };
}

/** Parses a test file; throws Error with the line number on malformed blocks. */
export function parseFile(text: string, name: string): TestFile {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const blocks: Block[] = [];
  let preamble: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const l = lines[i]!;
    if (l.trim() === '' || l.startsWith('#')) {
      preamble.push(l);
      i++;
      continue;
    }
    const line = i + 1;
    const commandText = l;
    const input: string[] = [];
    i++;
    while (i < lines.length && lines[i] !== '----') {
      if (lines[i]!.trim() === '') throw new Error(`${name}:${i + 1}: missing '----' after the command on line ${line}`);
      input.push(lines[i]!);
      i++;
    }
    if (i >= lines.length) throw new Error(`${name}:${line}: missing '----' after the command`);
    i++;
    const out: string[] = [];
    while (i < lines.length && lines[i]!.trim() !== '') {
      out.push(lines[i]!);
      i++;
    }
    let command: CmdLine;
    try {
      command = parseLine(commandText);
    } catch (e) {
      throw new Error(`${name}:${line}: ${(e as Error).message}`);
    }
    blocks.push({ line, preamble, command, commandText, input, expected: out.join('\n') });
    preamble = [];
  }
  return { blocks, trailer: preamble };
}

/** Formats a file from its blocks with the given outputs (one per block). */
export function formatFile(f: TestFile, outputs: readonly string[]): string {
  let s = '';
  f.blocks.forEach((b, k) => {
    for (const p of b.preamble) s += p + '\n';
    s += b.commandText + '\n';
    for (const l of b.input) s += l + '\n';
    s += '----\n' + outputs[k] + '\n';
  });
  // a blank line separates blocks; keep the file's own separators, add one if missing
  for (const p of f.trailer) s += p + '\n';
  return s;
}

/** A line diff of expected vs actual (`-` expected only, `+` actual only), for failure messages. */
export function lineDiff(expected: string, actual: string): string {
  const a = expected.split('\n');
  const b = actual.split('\n');
  // longest common subsequence table (outputs are short)
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let x = n - 1; x >= 0; x--) {
    for (let y = m - 1; y >= 0; y--) {
      lcs[x]![y] = a[x] === b[y] ? lcs[x + 1]![y + 1]! + 1 : Math.max(lcs[x + 1]![y]!, lcs[x]![y + 1]!);
    }
  }
  const out: string[] = [];
  let x = 0;
  let y = 0;
  while (x < n || y < m) {
    if (x < n && y < m && a[x] === b[y]) {
      out.push('  ' + a[x]);
      x++;
      y++;
    } else if (x < n && (y >= m || lcs[x + 1]![y]! >= lcs[x]![y + 1]!)) {
      out.push('- ' + a[x]);
      x++;
    } else {
      out.push('+ ' + b[y]);
      y++;
    }
  }
  return out.join('\n');
}
