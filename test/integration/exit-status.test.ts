import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../local/paths';

/*
 * `npm test`'s exit status is what editors, hooks and CI trust. A failing test planted under
 * test/integration/ (so the embedded PostgreSQL of the global setup starts and stops, whose exit
 * hook once turned every failure into exit 0) must make `npm test` exit non-zero, and a passing
 * one zero.
 */
function npmTest(file: string, path = `${dirname(process.execPath)}:${process.env.PATH}`) {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: path };
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

  it('runs on an older Node with the pinned one, and stops, naming both versions, when even that is too old', () => {
    const launcher = join(projectRoot, 'local', 'with-node.cjs');
    // On the Node running the tests (which meets the floor) the command runs as it is, its exit status kept.
    expect(spawnSync(process.execPath, [launcher, process.execPath, '-e', 'process.exit(3)']).status).toBe(3);
    // A copy of the project whose engines ask for a Node no machine has: it stops at once, fetching nothing.
    const copy = mkdtempSync(join(tmpdir(), 'vigil-node-check-'));
    try {
      mkdirSync(join(copy, 'local'));
      mkdirSync(join(copy, 'deploy'));
      copyFileSync(launcher, join(copy, 'local', 'with-node.cjs'));
      copyFileSync(join(projectRoot, 'deploy', 'runtime.json'), join(copy, 'deploy', 'runtime.json'));
      writeFileSync(join(copy, 'package.json'), JSON.stringify({ engines: { node: '>=99.1.0' } }));
      const started = Date.now();
      const result = spawnSync(process.execPath, [join(copy, 'local', 'with-node.cjs'), 'true'], { encoding: 'utf8' });
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(
        `Vigil needs Node.js >=99.1.0 (package.json engines); this is Node.js ${process.versions.node}.`,
      );
      expect(result.stderr).toContain('does not meet it either');
      expect(result.stderr).toContain('export PATH="$(dirname "$(local/node-runtime.sh)"):$PATH"');
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
    // .node-version names the deploy runtime's Node, which the floor admits.
    const runtime = JSON.parse(readFileSync(join(projectRoot, 'deploy', 'runtime.json'), 'utf8')).node.version;
    expect(readFileSync(join(projectRoot, '.node-version'), 'utf8').trim()).toBe(runtime);
  });

  // The README's quick start on a machine whose own Node is older (this kind's is 20): `npm test`
  // as written runs, with the pinned Node. Only where such a Node is installed, and said so.
  const older = ['/usr/bin/node', '/usr/local/bin/node'].find((candidate) => {
    const found = spawnSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' });
    return found.status === 0 && Number(found.stdout.split('.')[0]) < 22;
  });
  it.runIf(older)(
    `runs npm test, as the README writes it, on the machine's own older Node (${older ?? 'none here'})`,
    () => {
      const passing = planted("it('passes', () => expect(process.versions.node.split('.')[0]).toBe('24'));");
      try {
        const pinnedBin = dirname(process.execPath);
        const path = (process.env.PATH ?? '')
          .split(':')
          .filter((entry) => entry !== pinnedBin)
          .join(':');
        const result = npmTest(passing.file, `${dirname(older as string)}:${path}`);
        expect(result.stderr).toMatch(
          /older than >=22\.13\.0 \(package\.json engines\): running `vitest run .*` with the pinned Node\.js 24\./,
        );
        expect(result.stdout + result.stderr).toMatch(/1 passed/);
        expect(result.status).toBe(0);
      } finally {
        passing.remove();
      }
    },
    240_000,
  );
});
