import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configVariables } from '../../lib/config';
import { extractRunbookSteps, runbookStepsOf } from '../../local/runbooks';
import { allSections } from '../support/config-sections';

const root = join(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const pages = ['README.md', ...readdirSync(join(root, 'docs')).map((file) => `docs/${file}`)].filter((page) =>
  page.endsWith('.md'),
);

/** Markdown without its fenced code blocks: a `# comment` in a bash block is not a heading. */
const prose = (markdown: string) => markdown.replace(/^```[\s\S]*?^```/gm, '');

/** The anchors a page offers: GitHub's heading slugs (duplicates numbered) and explicit `<a id>`s. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const [, heading] of prose(markdown).matchAll(/^#{1,6} (.+)$/gm)) {
    const base = (heading as string)
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(base) ?? 0;
    anchors.add(count === 0 ? base : `${base}-${count}`);
    seen.set(base, count + 1);
  }
  for (const [, id] of markdown.matchAll(/<a id="([^"]+)"><\/a>/g)) anchors.add(id as string);
  return anchors;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** The configuration reference's rows: variable -> its default cell. */
function configurationRows(): Map<string, string> {
  const page = read('docs/configuration.md');
  const table = page.slice(page.indexOf('## Variables'), page.indexOf('## Thresholds'));
  const rows = new Map<string, string>();
  for (const [, variable, defaultCell] of table.matchAll(/^\| `([A-Z0-9_]+)` \| ([^|]*) \|/gm)) {
    rows.set(variable as string, (defaultCell as string).trim());
  }
  return rows;
}

/** What the schema gives for an unset variable, as the reference writes it; undefined when there is nothing. */
function schemaDefault(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) return value.length === 0 ? undefined : JSON.stringify(value);
  if (typeof value === 'object' && value !== null) {
    // An entries list (valid and invalid) with nothing in it: no default entries.
    return Object.values(value).every((part) => Array.isArray(part) && part.length === 0) ? undefined : JSON.stringify(value);
  }
  return `\`${String(value)}\``;
}

describe('the manual', () => {
  it('documents every configuration variable with the default its schema gives, and nothing else', async () => {
    const rows = configurationRows();
    const known = new Set<string>();
    for (const section of await allSections()) {
      for (const variable of configVariables(section)) {
        known.add(variable);
        const cell = rows.get(variable);
        expect(cell, `${variable} (section ${section.name}) has no row in docs/configuration.md`).toBeDefined();
        const parsed = section.variables.shape[variable]?.safeParse(undefined);
        const expected = schemaDefault(parsed?.success ? parsed.data : undefined);
        if (expected === undefined) {
          expect(cell, `${variable}: the schema has no default, so the reference must say - (or [])`).toMatch(/^(-|`\[\]`)/);
        } else {
          expect(cell?.startsWith(expected), `${variable}: the reference says ${cell}, the schema's default is ${expected}`).toBe(
            true,
          );
        }
      }
    }
    for (const variable of rows.keys()) expect(known, `${variable} is documented but no schema reads it`).toContain(variable);
  });

  it('resolves every link of the README and docs/, anchors included', () => {
    const broken: string[] = [];
    for (const page of pages) {
      for (const [, target] of prose(read(page)).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^(https?:|mailto:)/.test(target as string)) continue;
        const [path, anchor] = (target as string).split('#') as [string, string | undefined];
        const file = path === '' ? join(root, page) : join(root, dirname(page), path);
        if (!existsSync(file)) {
          broken.push(`${page}: ${target} (no file ${relative(root, file)})`);
          continue;
        }
        if (anchor !== undefined && file.endsWith('.md') && !anchorsOf(readFileSync(file, 'utf8')).has(anchor)) {
          broken.push(`${page}: ${target} (no anchor #${anchor} in ${relative(root, file)})`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('has a runbook entry for every runbook anchor an alert can link to', () => {
    const runbooks = read('docs/runbooks.md');
    const anchors = sourceFiles(join(root, 'functions'))
      .concat(sourceFiles(join(root, 'lib')))
      .flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/runbook: '([a-z0-9-]+)'/g)].map((match) => match[1]));
    // Alarm descriptions: in the sample events, the deploy helpers and serverless.yml.
    const describing = [
      ...readdirSync(join(root, 'events')).map((file) => join(root, 'events', file)),
      ...readdirSync(join(root, 'deploy'))
        .map((file) => join(root, 'deploy', file))
        .filter((file) => statSync(file).isFile()),
      join(root, 'serverless.yml'),
    ];
    const fromEvents = describing.flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/Runbook: #([a-z0-9-]+)/g)].map((match) => match[1]),
    );
    expect(fromEvents).toEqual(expect.arrayContaining(['alarm-function-errors', 'alarm-dead-letters', 'backup-freshness']));
    expect(anchors.length).toBeGreaterThan(0);
    for (const anchor of new Set([...anchors, ...fromEvents])) expect(runbooks, anchor).toContain(`<a id="${anchor}"></a>`);
  });

  it("carries every runbook entry's first steps as docs/runbooks.md has them (npm run runbooks writes them)", () => {
    const steps = extractRunbookSteps(read('docs/runbooks.md'));
    expect(read('lib/alerts/runbook-steps.json'), 'lib/alerts/runbook-steps.json is stale: run npm run runbooks').toBe(
      runbookStepsOf(read('docs/runbooks.md')),
    );
    // Every entry an alert links to gives the reader something to do.
    for (const [anchor, entry] of Object.entries(steps)) expect(entry.steps.length, anchor).toBeGreaterThan(0);
    expect(steps['backup-failed']?.steps[0]).toMatch(/^Confirm: npm run invoke -- backup --event events\/backup.schedule.json/);
  });

  it('keeps the README a front door: under 15 KB, linking every page of docs/', () => {
    const readme = read('README.md');
    expect(Buffer.byteLength(readme)).toBeLessThan(15 * 1024);
    for (const page of pages.filter((path) => path.startsWith('docs/'))) expect(readme, page).toContain(`](${page})`);
  });

  it('shows the test command CI runs', () => {
    expect(read('README.md')).toContain('npm test');
    expect(read('.ci/run')).toContain('npm test');
  });
});
