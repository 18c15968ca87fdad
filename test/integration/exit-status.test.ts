import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../local/migrate';

/*
 * `npm test`'s exit status is what editors, hooks and CI trust. A failing test planted under
 * test/integration/ (so the embedded PostgreSQL of the global setup starts and stops, whose exit
 * hook once turned every failure into exit 0) must make `npm test` exit non-zero, and a passing
 * one zero.
 */
function npmTest(file: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` };
  for (const name of Object.keys(env)) if (name.startsWith('VITEST')) delete env[name];
  delete env.DATABASE_URL;
  return spawnSync('npm', ['test', '--', '--project', 'integration', file], {
    cwd: projectRoot,
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
}

function planted(body: string): { file: string; remove: () => void } {
  const file = join('test', 'integration', `planted-${process.pid}-${Math.random().toString(36).slice(2)}.test.ts`);
  writeFileSync(join(projectRoot, file), `import { expect, it } from 'vitest';\n${body}\n`);
  return { file, remove: () => rmSync(join(projectRoot, file), { force: true }) };
}

describe('npm test exit status', () => {
  it('is non-zero when a test fails, and zero when it passes', () => {
    const failing = planted("it('fails on purpose', () => expect(1 + 1).toBe(3));");
    const passing = planted("it('passes', () => expect(1 + 1).toBe(2));");
    try {
      const failed = npmTest(failing.file);
      expect(failed.stdout + failed.stderr).toContain('fails on purpose');
      expect(failed.status).not.toBe(0);
      const passed = npmTest(passing.file);
      expect(passed.stdout + passed.stderr).toMatch(/1 passed/);
      expect(passed.status).toBe(0);
    } finally {
      failing.remove();
      passing.remove();
    }
  }, 240_000);

  it('stops at once on a Node older than package.json asks, naming both versions and the command that gets the right one', () => {
    // The check itself, in a copy of the project whose engines ask for a Node no machine has.
    const copy = mkdtempSync(join(tmpdir(), 'vigil-node-check-'));
    try {
      mkdirSync(join(copy, 'local'));
      mkdirSync(join(copy, 'deploy'));
      copyFileSync(join(projectRoot, 'local', 'check-node.cjs'), join(copy, 'local', 'check-node.cjs'));
      copyFileSync(join(projectRoot, 'deploy', 'runtime.json'), join(copy, 'deploy', 'runtime.json'));
      writeFileSync(join(copy, 'package.json'), JSON.stringify({ engines: { node: '>=99.1.0' } }));
      const started = Date.now();
      const result = spawnSync(process.execPath, [join(copy, 'local', 'check-node.cjs')], { encoding: 'utf8' });
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(
        `Vigil needs Node.js >=99.1.0 (package.json engines); this is Node.js ${process.versions.node}.`,
      );
      expect(result.stderr).toContain('export PATH="$(dirname "$(local/node-runtime.sh)"):$PATH"');
      // And the project's own floor passes on the Node running the tests.
      expect(spawnSync(process.execPath, [join(projectRoot, 'local', 'check-node.cjs')]).status).toBe(0);
      // .node-version names the deploy runtime's Node, which the floor admits.
      const runtime = JSON.parse(readFileSync(join(projectRoot, 'deploy', 'runtime.json'), 'utf8')).node.version;
      expect(readFileSync(join(projectRoot, '.node-version'), 'utf8').trim()).toBe(runtime);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
