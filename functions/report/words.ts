/* Numbers as the digest, the page and the console print them: one rounding, units spelt out. */

export function formatNumber(value: number): string {
  const magnitude = Math.abs(value);
  if (Number.isInteger(value)) return value.toLocaleString('en-GB');
  if (magnitude >= 100) return Math.round(value).toLocaleString('en-GB');
  if (magnitude >= 1) return value.toFixed(1);
  // Two significant digits, no trailing zero: 0.1, 0.05, 0.017.
  return String(Number(value.toPrecision(2)));
}

/** "91.2 %", "840 ms", "3 months ahead". */
export function withUnit(value: number, unit: string): string {
  // Shares to one decimal, as the sources state them (85 % reads 85.0 %, 87.5 % stays).
  if (unit === '%') return `${Math.abs(value) >= 1 && Math.abs(value) < 1000 ? value.toFixed(1) : formatNumber(value)} %`;
  return `${formatNumber(value)} ${unit}`.trim();
}

export const plural = (count: number, one: string, many = `${one}s`) =>
  `${count.toLocaleString('en-GB')} ${count === 1 ? one : many}`;

/** "2 h 5 min", "3 d 4 h". */
export function durationWords(ms: number): string {
  const minutes = Math.max(0, Math.round(ms / 60_000));
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}
