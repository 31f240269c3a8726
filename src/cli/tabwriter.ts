/**
 * @module cli/tabwriter
 * Go's text/tabwriter elastic tabstops, for the settings etcdctl's help uses
 * (`Init(w, 0, 8, 1, '\t', 0)`: minwidth 0, tabwidth 8, padding 1, pad with tabs).
 * Cells are tab-terminated; a column block is a run of consecutive lines that all have
 * a cell in that column; each cell is padded with tabs up to the block's width rounded
 * up to a multiple of the tab width. Widths count runes, as Go does.
 */

const TAB_WIDTH = 8;
const PADDING = 1;

interface Cell {
  text: string;
  width: number;
}

/**
 * Formats `text` as Go's tabwriter would when the whole text is written and flushed.
 * @param text lines separated by `\n`, cells separated by `\t`
 */
export function tabwrite(text: string): string {
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
        if (j < widths.length) s += padding(c.width, widths[j]!);
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
      let width = 0;
      for (; t < line1; t++) {
        const line = lines[t]!;
        if (column >= line.length - 1) break;
        width = Math.max(width, line[column]!.width + PADDING);
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

function padding(textw: number, cellw: number): string {
  const w = Math.ceil(cellw / TAB_WIDTH) * TAB_WIDTH;
  return '\t'.repeat(Math.ceil((w - textw) / TAB_WIDTH));
}
