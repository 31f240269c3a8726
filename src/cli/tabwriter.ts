/**
 * @module cli/tabwriter
 * Go's text/tabwriter elastic tabstops with flags 0. The defaults are the settings
 * etcdctl's v3 help uses (`Init(w, 0, 8, 1, '\t', 0)`: minwidth 0, tabwidth 8, padding 1,
 * pad with tabs); the v2 help (urfave/cli) uses `NewWriter(w, 1, 8, 2, ' ', 0)`.
 * Cells are tab-terminated; a column block is a run of consecutive lines that all have
 * a cell in that column; the block's width is its widest cell plus the padding (at least
 * minwidth). With padchar '\t' each cell is padded with tabs up to that width rounded up
 * to a multiple of the tab width; with any other padchar, with that character up to the
 * width exactly. Widths count runes, as Go does.
 */

/** Go's tabwriter.Writer.Init parameters (flags are always 0). */
export interface TabwriterOptions {
  /** Minimal cell width including padding; default 0. */
  minwidth?: number;
  /** Width of a tab character in columns, for padchar '\t'; default 8. */
  tabwidth?: number;
  /** Added to a cell's width when computing the column width; default 1. */
  padding?: number;
  /** The padding character, '\t' (default) or one other single character such as ' '. */
  padchar?: string;
}

interface Cell {
  text: string;
  width: number;
}

/**
 * Formats `text` as Go's tabwriter would when the whole text is written and flushed.
 * @param text lines separated by `\n`, cells separated by `\t`
 * @param options the writer's Init parameters; defaults are etcdctl v3's help settings
 * @throws Error if padchar is not a single character or tabwidth is not positive with tabs
 */
export function tabwrite(text: string, options: TabwriterOptions = {}): string {
  const { minwidth = 0, tabwidth = 8, padding = 1, padchar = '\t' } = options;
  if ([...padchar].length !== 1) throw new Error(`tabwrite: padchar must be one character, got ${JSON.stringify(padchar)}`);
  if (padchar === '\t' && !(tabwidth > 0)) throw new Error(`tabwrite: tabwidth must be positive to pad with tabs, got ${tabwidth}`);
  const pad = (textw: number, cellw: number): string => {
    if (padchar !== '\t') return padchar.repeat(cellw - textw);
    const w = Math.ceil(cellw / tabwidth) * tabwidth;
    return '\t'.repeat(Math.ceil((w - textw) / tabwidth));
  };
  const lines: Cell[][] = text.split('\n').map((l) =>
    l.split('\t').map((t) => ({ text: t, width: [...t].length })),
  );
  const out: string[] = [];
  const widths: number[] = [];

  const writeLines = (line0: number, line1: number) => {
    for (let i = line0; i < line1; i++) {
      const line = lines[i]!;
      let s = '';
      for (let j = 0; j < line.length; j++) {
        const c = line[j]!;
        s += c.text;
        if (j < widths.length) s += pad(c.width, widths[j]!);
      }
      out.push(s);
    }
  };

  const format = (line0: number, line1: number) => {
    const column = widths.length;
    for (let t = line0; t < line1; t++) {
      if (column >= lines[t]!.length - 1) continue;
      writeLines(line0, t);
      line0 = t;
      let width = minwidth;
      for (; t < line1; t++) {
        const line = lines[t]!;
        if (column >= line.length - 1) break;
        width = Math.max(width, line[column]!.width + padding);
      }
      widths.push(width);
      format(line0, t);
      widths.pop();
      line0 = t;
    }
    writeLines(line0, line1);
  };

  format(0, lines.length);
  return out.join('\n');
}
