import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './paths';

/*
 * docs/runbooks.md is where on-call reads what to do. When no runbook URL is configured, an alert
 * carries its entry's first steps in the email instead, from lib/alerts/runbook-steps.json, which
 * `npm run runbooks` writes from the document (a test fails when the two differ).
 */

export const runbooksFile = join(projectRoot, 'docs', 'runbooks.md');
export const runbookStepsFile = join(projectRoot, 'lib', 'alerts', 'runbook-steps.json');

export interface RunbookEntry {
  title: string;
  /** The entry's "Confirm" and "Do" items, or its first paragraph when it has no items. */
  steps: string[];
}

/** Markdown to what an email shows: no backticks, links as their text, one line per step. */
const plain = (markdown: string) =>
  markdown
    .replace(/\[([^\]]+)\]\([^)]*\)/g, '$1')
    .replace(/`/g, '')
    .replace(/\s+/g, ' ')
    .trim();

export function extractRunbookSteps(markdown: string): Record<string, RunbookEntry> {
  const entries: Record<string, RunbookEntry> = {};
  const sections = markdown.split(/^<a id="([a-z0-9-]+)"><\/a>\n/m);
  for (let index = 1; index < sections.length; index += 2) {
    const anchor = sections[index] as string;
    const body = (sections[index + 1] ?? '').split(/^#{1,3} /m);
    const [heading = '', ...rest] = (body[1] ?? '').split('\n');
    const text = rest.join('\n');
    const items = [...text.matchAll(/^- (Confirm|Do): ([\s\S]*?)(?=^- |^\s*$|(?![\s\S]))/gm)].map(
      (match) => `${match[1]}: ${plain(match[2] as string)}`,
    );
    const firstParagraph = plain(text.trim().split(/\n\s*\n/)[0] ?? '');
    entries[anchor] = { title: plain(heading), steps: items.length ? items : firstParagraph ? [firstParagraph] : [] };
  }
  return entries;
}

export const runbookStepsOf = (markdown = readFileSync(runbooksFile, 'utf8')) =>
  `${JSON.stringify(extractRunbookSteps(markdown), null, 2)}\n`;

if (process.argv[1] && /runbooks\.ts$/.test(process.argv[1])) {
  writeFileSync(runbookStepsFile, runbookStepsOf());
  process.stdout.write(`wrote ${runbookStepsFile}\n`);
}
