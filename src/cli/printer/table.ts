/**
 * @module cli/printer/table
 * etcdctl's `table` format (printer_table.go). In etcdctl 3.4 only member list,
 * endpoint status/health/hashkv and snapshot status support it; everything else is
 * `table not supported as output format` (exit 4), which the base class provides.
 *
 * The tables are rendered as github.com/olekukonko/tablewriter v0.0.5 does with its
 * defaults plus SetAlignment(ALIGN_RIGHT): ASCII borders (`+`, `-`, `|`), headers
 * upper-cased and centred, cells right-aligned, and cells wider than 30 columns
 * word-wrapped onto several lines (minimum-raggedness wrapping).
 */

import type { MemberListResponse } from '../../gen/etcdserverpb/rpc_pb.js';
import { UnsupportedPrinter, type PrinterOptions } from './base.js';
import {
  dbStatusTable,
  endpointHashKVTable,
  endpointHealthTable,
  endpointStatusTable,
  memberListTable,
  type DbStatus,
  type EpHashKV,
  type EpHealth,
  type EpStatus,
  type TableData,
} from './maintenance.js';

/** tablewriter's default maximum cell width before wrapping (MAX_ROW_WIDTH). */
const MAX_COL_WIDTH = 30;

/** Terminal width of one code point, approximating go-runewidth (east-asian wide = 2, combining = 0). */
function runeWidth(cp: number): number {
  if (cp === 0) return 0;
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return 0;
  if (/\p{Mn}|\p{Me}/u.test(String.fromCodePoint(cp)) || cp === 0x200b) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0x303e) || (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) || (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x20000 && cp <= 0x3fffd)
  ) return 2;
  return 1;
}

/** Display width of a string (tablewriter's DisplayWidth, ANSI colour codes removed). */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s.replace(/\x1b\[(?:[0-9]{1,3}(?:;[0-9]{1,3})*)?[m|K]/g, '')) w += runeWidth(ch.codePointAt(0)!);
  return w;
}

/** tablewriter's WrapWords: minimum-raggedness line breaking of `words` at width `lim`. */
function wrapWords(words: string[], spc: number, lim: number, pen: number): string[][] {
  const n = words.length;
  const width = words.map(displayWidth);
  const length = (i: number, j: number) => {
    let l = width[i]!;
    for (let k = i + 1; k <= j; k++) l += spc + width[k]!;
    return l;
  };
  const nbrk = new Array<number>(n).fill(0);
  const cost = new Array<number>(n).fill(2147483647);
  for (let i = n - 1; i >= 0; i--) {
    if (length(i, n - 1) <= lim) {
      cost[i] = 0;
      nbrk[i] = n;
    } else {
      for (let j = i + 1; j < n; j++) {
        const d = lim - length(i, j - 1);
        let c = d * d + cost[j]!;
        if (length(i, j - 1) > lim) c += pen;
        if (c < cost[i]!) {
          cost[i] = c;
          nbrk[i] = j;
        }
      }
    }
  }
  const lines: string[][] = [];
  for (let i = 0; i < n; i = nbrk[i]!) lines.push(words.slice(i, nbrk[i]));
  return lines;
}

/** tablewriter's WrapString: splits on single spaces, raises the limit to the longest word. */
function wrapString(s: string, lim: number): string[] {
  const words = s.replace(/\n/g, ' ').split(' ');
  for (const w of words) lim = Math.max(lim, displayWidth(w));
  return wrapWords(words, 1, lim, 1e5).map((l) => l.join(' '));
}

/** tablewriter's Title: `_` and non-numeric `.` become spaces, trimmed, upper-cased. */
function title(name: string): string {
  const orig = name.length;
  const rs = [...name];
  const numOrSpace = (c: string | undefined) => c !== undefined && /[0-9 ]/.test(c);
  for (let i = 0; i < rs.length; i++) {
    if (rs[i] === '_') rs[i] = ' ';
    else if (rs[i] === '.' && ((i !== 0 && !numOrSpace(rs[i - 1])) || (i !== rs.length - 1 && !numOrSpace(rs[i + 1])))) rs[i] = ' ';
  }
  let t = rs.join('').replace(/^[\s]+|[\s]+$/g, '');
  if (t.length === 0 && orig > 0) t = ' ';
  return t.toUpperCase();
}

function padCenter(s: string, width: number): string {
  const gap = width - displayWidth(s);
  if (gap <= 0) return s;
  const left = Math.floor(gap / 2);
  return ' '.repeat(left) + s + ' '.repeat(gap - left);
}

function padLeft(s: string, width: number): string {
  const gap = width - displayWidth(s);
  return gap > 0 ? ' '.repeat(gap) + s : s;
}

/**
 * Renders a table exactly as tablewriter v0.0.5 `NewWriter` + `SetHeader` + `Append`
 * + `SetAlignment(ALIGN_RIGHT)` + `Render` does, returning the text (ends with `\n`).
 */
export function renderTable({ hdr, rows }: TableData): string {
  const colWidth = new Map<number, number>();
  const rowHeight = new Map<number, number>();
  const parse = (str: string, col: number, row: number): string[] => {
    let raw = str.split('\n');
    let maxWidth = Math.max(0, ...raw.map(displayWidth));
    if (maxWidth > MAX_COL_WIDTH) maxWidth = MAX_COL_WIDTH;
    let newMax = maxWidth;
    raw = [raw.join(' ')];
    const lines: string[] = [];
    raw.forEach((para, i) => {
      const pl = wrapString(para, maxWidth);
      for (const l of pl) newMax = Math.max(newMax, displayWidth(l));
      if (i > 0) lines.push(' ');
      lines.push(...pl);
    });
    const v = colWidth.get(col);
    if (v === undefined || v < newMax || v === 0) colWidth.set(col, newMax);
    const h = rowHeight.get(row);
    if (h === undefined || h < lines.length || h === 0) rowHeight.set(row, lines.length);
    return lines;
  };
  const headers = hdr.map((h, i) => parse(h, i, -1));
  const cells = rows.map((r, n) => r.map((c, i) => parse(c, i, n)));
  const ncols = colWidth.size;
  const width = (i: number) => colWidth.get(i) ?? 0;

  let out = '';
  const line = () => {
    out += '+';
    for (let i = 0; i < ncols; i++) out += '-'.repeat(width(i) + 2) + '+';
    out += '\n';
  };
  line();
  const hmax = rowHeight.get(-1) ?? 0;
  for (let x = 0; x < hmax; x++) {
    out += '|';
    for (let y = 0; y < ncols; y++) {
      const h = headers[y]?.[x] ?? '';
      out += ` ${padCenter(title(h), width(y))} |`;
    }
    out += '\n';
  }
  line();
  cells.forEach((cols, n) => {
    const max = rowHeight.get(n) ?? 0;
    const padded = cols.map((c) => [...c, ...new Array<string>(Math.max(0, max - c.length)).fill('  ')]);
    for (let x = 0; x < max; x++) {
      for (let y = 0; y < padded.length; y++) out += `| ${padLeft(padded[y]![x]!, width(y))} `;
      out += '|\n';
    }
  });
  line();
  return out;
}

export class TablePrinter extends UnsupportedPrinter {
  constructor(protected readonly opts: PrinterOptions) {
    super('table');
  }

  private table(t: TableData): void {
    this.opts.out.write(renderTable(t));
  }

  override memberList(r: MemberListResponse): void { this.table(memberListTable(r)); }
  override endpointHealth(list: EpHealth[]): void { this.table(endpointHealthTable(list)); }
  override endpointStatus(list: EpStatus[]): void { this.table(endpointStatusTable(list)); }
  override endpointHashKV(list: EpHashKV[]): void { this.table(endpointHashKVTable(list)); }
  override dbStatus(ds: DbStatus): void { this.table(dbStatusTable(ds)); }
}
