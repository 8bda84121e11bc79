/**
 * A bench's figures as a plain-text table: reads rows of cells (the first row is the header);
 * emits the lines with columns padded, the first left-aligned and the rest right-aligned.
 */

/** Rows of cells as aligned text. */
export function table(lines: readonly (readonly string[])[]): string {
  const widths = lines[0]?.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length))) ?? [];
  return lines.map((l) => l.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ')).join('\n');
}
