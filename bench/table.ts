export interface BenchRow {
  case: string;
  figure: number;
  unit: string;
  n: number;
  /** What the figure is compared with, measured in the same run. */
  reference: string;
}

export interface BenchCase {
  name: string;
  run(): Promise<BenchRow[]>;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export function formatTable(rows: BenchRow[]): string {
  const header = ['case', 'figure', 'unit', 'n', 'reference'];
  const cells = rows.map((row) => [
    row.case,
    row.figure.toFixed(row.figure < 10 ? 2 : 0),
    row.unit,
    String(row.n),
    row.reference,
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((line) => (line[column] as string).length)));
  const line = (values: string[]) => values.map((value, column) => value.padEnd(widths[column] as number)).join(' | ');
  return [line(header), widths.map((width) => '-'.repeat(width)).join('-|-'), ...cells.map(line)].join('\n');
}
