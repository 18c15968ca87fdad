import { vi } from 'vitest';

/**
 * Runs `work` while capturing what Powertools writes to stdout (console.log or the stream itself),
 * and returns its result with the Embedded Metric Format documents written meanwhile.
 */
export async function captureEmf<T>(
  work: () => T | Promise<T>,
): Promise<{ result: T; documents: Array<Record<string, unknown>> }> {
  const lines: string[] = [];
  const capture = (chunk: unknown) => {
    lines.push(String(chunk));
    return true;
  };
  const spies = [
    vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void capture(args.join(' '))),
    vi.spyOn(process.stdout, 'write').mockImplementation(capture as typeof process.stdout.write),
  ];
  try {
    const result = await work();
    const documents = lines.filter((line) => line.includes('CloudWatchMetrics')).map((line) => JSON.parse(line));
    return { result, documents };
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}
