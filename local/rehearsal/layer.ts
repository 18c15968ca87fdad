import { execFile } from 'node:child_process';
import { access, constants, readdir, readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../paths';

/*
 * The pg tools layer, shaped as Lambda mounts it at /opt: bin/pg_dump, bin/pg_restore, lib/ with
 * libpq and the rest. Built here by the same script that lays out the real (arm64, Amazon Linux)
 * layer, from this machine's own tools, and checked by the same rules.
 */

const run = promisify(execFile);
export const collectScript = join(projectRoot, 'deploy', 'pg-tools-layer', 'collect.sh');
const glibc = /^(linux-vdso|ld-linux|libc|libm|libdl|libpthread|librt|libresolv|libutil|libanl|libnsl)\.so/;

/** This machine's pg_dump and pg_restore binaries (not Debian's Perl wrapper): the newest major installed. */
export async function localPgTools(): Promise<{ pgDump: string; pgRestore: string }> {
  const fromEnv = process.env.VIGIL_REHEARSAL_PG_BIN;
  const candidates = fromEnv
    ? [fromEnv]
    : (await readdir('/usr/lib/postgresql').catch(() => [] as string[]))
        .filter((name) => /^\d+$/.test(name))
        .sort((a, b) => Number(b) - Number(a))
        .map((major) => join('/usr/lib/postgresql', major, 'bin'));
  for (const bin of candidates) {
    const pgDump = join(bin, 'pg_dump');
    const pgRestore = join(bin, 'pg_restore');
    const present = await Promise.all(
      [pgDump, pgRestore].map((file) =>
        access(file, constants.X_OK).then(
          () => true,
          () => false,
        ),
      ),
    );
    if (present.every(Boolean)) return { pgDump, pgRestore };
  }
  throw new Error(
    'no pg_dump/pg_restore binaries found (looked in /usr/lib/postgresql/<major>/bin; set VIGIL_REHEARSAL_PG_BIN to their directory)',
  );
}

export async function buildLayer(outDir: string): Promise<void> {
  const tools = await localPgTools();
  await run('bash', [collectScript, outDir, tools.pgDump, tools.pgRestore], { timeout: 60_000 });
}

/** What is wrong with a layer directory's layout, checked on the host (the sandbox then proves it runs). */
export async function layerProblems(layerDir: string): Promise<string[]> {
  const problems: string[] = [];
  for (const tool of ['pg_dump', 'pg_restore']) {
    const file = join(layerDir, 'bin', tool);
    const ok = await access(file, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (!ok) {
      problems.push(`bin/${tool} is missing or not executable`);
      continue;
    }
    const { stdout } = await run('ldd', [file], { env: { LD_LIBRARY_PATH: join(layerDir, 'lib') } });
    for (const line of stdout.split('\n')) {
      const match = /^\s*(\S+)\s+=>\s+(\S+)/.exec(line);
      if (!match) continue;
      const [, soname, path] = match as unknown as [string, string, string];
      if (glibc.test(soname)) continue;
      if (path === 'not') problems.push(`bin/${tool} needs ${soname}, which lib/ does not hold`);
      else if (!(await realpath(path)).startsWith(await realpath(join(layerDir, 'lib')))) {
        problems.push(`bin/${tool} finds ${soname} outside the layer (${path})`);
      }
    }
  }
  const libraries = await readdir(join(layerDir, 'lib')).catch(() => [] as string[]);
  if (!libraries.includes('libpq.so.5')) problems.push('lib/libpq.so.5 is missing');
  const manifest = await readFile(join(layerDir, 'pg-tools.json'), 'utf8').catch(() => undefined);
  if (!manifest) problems.push('pg-tools.json is missing');
  return problems;
}

/**
 * The host's own copies of every library the layer ships, found through the loader's cache: the
 * sandbox hides them, so the layer's tools can find their libraries only as on Lambda, through
 * LD_LIBRARY_PATH (whose last entry is /opt/lib), and a tool spawned without it fails.
 */
export async function hostCopiesOfLayerLibraries(layerDir: string): Promise<string[]> {
  const libraries = new Set(await readdir(join(layerDir, 'lib')));
  const { stdout } = await run('ldconfig', ['-p']).catch(() => run('/sbin/ldconfig', ['-p']));
  const paths = new Set<string>();
  for (const line of stdout.split('\n')) {
    const match = /^\s*(\S+)\s.*=>\s+(\S+)$/.exec(line);
    if (match && libraries.has(match[1] as string)) paths.add(await realpath(match[2] as string));
  }
  return [...paths].sort();
}
