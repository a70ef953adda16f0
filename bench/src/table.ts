/** One figure of a benchmark's table. */
export interface FigureRow {
  id: string;
  figure: string;
  value: string;
  target: string;
  /** `undefined` for figures reported without a target (peers, context). */
  met: boolean | undefined;
  detail: string;
}

/** Prints a Markdown table to stdout, each column as wide as its widest cell. */
export function printTable(header: readonly string[], cells: readonly (readonly string[])[]): void {
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((line) => line[column]!.length)));
  const format = (line: readonly string[]): string => `| ${line.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  process.stdout.write(`${format(header)}\n${format(widths.map((width) => '-'.repeat(width)))}\n`);
  for (const line of cells) process.stdout.write(`${format(line)}\n`);
}

/** A row's `met` as the table prints it. */
export const metCell = (met: boolean | undefined): string => (met === undefined ? '' : met ? 'yes' : 'NO');
