/*
 * SMS sizing. One segment holds 160 GSM-7 septets, or 70 UCS-2 code units when any character is
 * outside GSM-7. SNS prefixes every SMS with the topic's display name and "> ", inside the segment.
 */

const gsmBasic = new Set(
  Array.from(
    '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
  ),
);
const gsmExtended = new Set(Array.from('^{}\\[~]|€\f'));

export const gsmSegmentSeptets = 160;
export const ucs2SegmentUnits = 70;

/** Septets of the text in GSM-7, or undefined when a character needs UCS-2. */
export function gsmSeptets(text: string): number | undefined {
  let septets = 0;
  for (const character of text) {
    if (gsmBasic.has(character)) septets += 1;
    else if (gsmExtended.has(character)) septets += 2;
    else return undefined;
  }
  return septets;
}

export interface SmsSize {
  encoding: 'GSM-7' | 'UCS-2';
  /** Septets (GSM-7) or UTF-16 code units (UCS-2), the prefix included. */
  units: number;
  limit: number;
  fitsOneSegment: boolean;
}

export function smsSize(delivered: string): SmsSize {
  const septets = gsmSeptets(delivered);
  if (septets !== undefined) {
    return { encoding: 'GSM-7', units: septets, limit: gsmSegmentSeptets, fitsOneSegment: septets <= gsmSegmentSeptets };
  }
  return {
    encoding: 'UCS-2',
    units: delivered.length,
    limit: ucs2SegmentUnits,
    fitsOneSegment: delivered.length <= ucs2SegmentUnits,
  };
}

const lookalikes: Record<string, string> = {
  '\u2013': '-',
  '\u2014': '-',
  '\u2212': '-',
  '\u2018': "'",
  '\u2019': "'",
  '\u201c': '"',
  '\u201d': '"',
  '\u2026': '...',
  '\u2265': '>=',
  '\u2264': '<=',
  '\u00d7': 'x',
  '\u00b5': 'u',
  '\u00a0': ' ',
  '\u2192': '->',
  '\t': ' ',
};

/** Replaces what has a GSM-7 spelling (dashes, quotes, accents) so the text keeps 160 characters. */
export function toGsm(text: string): string {
  let result = '';
  for (const character of text) {
    if (gsmBasic.has(character) || gsmExtended.has(character)) {
      result += character;
      continue;
    }
    const lookalike = lookalikes[character];
    if (lookalike !== undefined) {
      result += lookalike;
      continue;
    }
    const stripped = character.normalize('NFKD').replace(/\p{M}/gu, '');
    result += Array.from(stripped).every((part) => gsmBasic.has(part)) ? stripped : character;
  }
  return result;
}

/**
 * The SMS body that fits one segment once SNS adds `<displayName>> `: GSM-7 where the text allows
 * it, else UCS-2; cut on a character boundary with "..." when too long.
 */
export function fitSms(text: string, displayName: string): string {
  const prefix = `${displayName}> `;
  const body = toGsm(text.replace(/\s+/g, ' ').trim());
  if (smsSize(prefix + body).fitsOneSegment) return body;
  const characters = Array.from(body);
  for (let keep = characters.length - 1; keep >= 0; keep -= 1) {
    const candidate = `${characters.slice(0, keep).join('').trimEnd()}...`;
    if (smsSize(prefix + candidate).fitsOneSegment) return candidate;
  }
  return '';
}

/**
 * One SMS from its parts, in order: `lead` and `anchor` (severity, stage, since, key) are kept
 * whole; `fill` (measurements, a note) is cut first, then `title`, so that the one segment always
 * carries what the alert is, since when, and its key.
 */
export function composeSms(parts: { lead: string; title: string; anchor: string; fill: string }, displayName: string): string {
  const prefix = `${displayName}> `;
  const clean = (text: string) => toGsm(text.replace(/\s+/g, ' '));
  const lead = clean(parts.lead);
  const title = Array.from(clean(parts.title).trim()).slice(0, 200).join('');
  const anchor = clean(parts.anchor);
  // A segment holds 160 characters at most: longer fill is cut before any fitting is tried.
  const fill = Array.from(clean(parts.fill).trimEnd()).slice(0, 200).join('');
  const fits = (body: string) => smsSize(prefix + body).fitsOneSegment;
  const whole = `${lead}${title}${anchor}${fill}`.trim();
  if (fits(whole)) return whole;
  const cut = (text: string, keep: number) => `${Array.from(text).slice(0, keep).join('').trimEnd()}...`;
  const fillCharacters = Array.from(fill).length;
  // A fill cut to a few characters says nothing: below 8 it goes.
  for (let keep = fillCharacters - 1; keep >= 8; keep -= 1) {
    const candidate = `${lead}${title}${anchor}${cut(fill, keep)}`.trim();
    if (fits(candidate)) return candidate;
  }
  const titleCharacters = Array.from(title).length;
  if (fits(`${lead}${title}${anchor}`.trim())) return `${lead}${title}${anchor}`.trim();
  for (let keep = titleCharacters - 1; keep >= 0; keep -= 1) {
    const candidate = `${lead}${cut(title, keep)}${anchor}`.trim();
    if (fits(candidate)) return candidate;
  }
  // Lead and anchor alone exceed a segment only with a key of more than ~100 characters.
  return fitSms(`${lead}${anchor}`, displayName);
}
