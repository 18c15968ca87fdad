/* Numbers as the digest, the page and the console print them: one rounding, units spelt out. */

export function formatNumber(value: number): string {
  const magnitude = Math.abs(value);
  if (Number.isInteger(value)) return value.toLocaleString('en-GB');
  if (magnitude >= 100) return Math.round(value).toLocaleString('en-GB');
  if (magnitude >= 1) return value.toFixed(1);
  // Two significant digits, no trailing zero: 0.1, 0.05, 0.017.
  return String(Number(value.toPrecision(2)));
}

/** A unit or a count's noun for one: "months ahead" -> "month ahead", "loads of each page" -> "load of each page". */
export function singular(words: string): string {
  const [head = '', ...rest] = words.split(' of ');
  const parts = head.split(' ');
  // The last plural word before any "of" (units of two letters, ms, are not plurals).
  for (let index = parts.length - 1; index >= 0; index -= 1) {
    const word = parts[index] as string;
    if (word.length <= 2 || !/s$/.test(word)) continue;
    parts[index] = word.endsWith('ies') ? `${word.slice(0, -3)}y` : word.slice(0, -1);
    break;
  }
  return [parts.join(' '), ...rest].join(' of ');
}

/** "n = 1 window", "n = 672 windows". */
export const countWords = (n: number, counted: string) => `${n.toLocaleString('en-GB')} ${n === 1 ? singular(counted) : counted}`;

/** "91.2 %", "840 ms", "3 months ahead", "1 month ahead". */
export function withUnit(value: number, unit: string): string {
  // Shares to one decimal, as the sources state them (85 % reads 85.0 %, 87.5 % stays).
  if (unit === '%') return `${Math.abs(value) >= 1 && Math.abs(value) < 1000 ? value.toFixed(1) : formatNumber(value)} %`;
  return `${formatNumber(value)} ${value === 1 ? singular(unit) : unit}`.trim();
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
