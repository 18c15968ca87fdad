import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configVariables } from '../../lib/config';
import { allSections } from '../support/config-sections';

const root = join(__dirname, '../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('README', () => {
  it('documents every configuration variable in its table', async () => {
    const table = readme.slice(readme.indexOf('## Configuration'));
    for (const section of await allSections()) {
      for (const variable of configVariables(section)) expect(table, variable).toContain(`| \`${variable}\` |`);
    }
  });

  it('has a runbook entry for every runbook anchor an alert can link to', () => {
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
    for (const anchor of new Set([...anchors, ...fromEvents])) expect(readme, anchor).toContain(`<a id="${anchor}"></a>`);
  });

  it('shows the test command CI runs', () => {
    expect(readme).toContain('npm test');
    expect(readFileSync(join(root, '.ci/run'), 'utf8')).toContain('npm test');
  });
});
