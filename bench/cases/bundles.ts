import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from '../../local/paths';
import { bundleFunctions, coldStartEnvironment } from '../support/bundle';
import { type BenchCase, type BenchRow, median } from '../table';

const runs = 10;

/** Milliseconds to import a file in a fresh Node process (as Lambda's runtime does), measured inside it, and the process's wall time. */
function coldStart(file: string | undefined): { loadMs: number; wallMs: number } {
  const script = file
    ? `const t=performance.now();import(${JSON.stringify(pathToFileURL(file).href)}).then(()=>process.stdout.write(String(performance.now()-t)))`
    : 'process.stdout.write("0")';
  const started = performance.now();
  const result = spawnSync(process.execPath, ['-e', script], {
    env: { PATH: process.env.PATH, ...coldStartEnvironment },
    encoding: 'utf8',
  });
  const wallMs = performance.now() - started;
  if (result.status !== 0) throw new Error(`loading ${file} failed: ${result.stderr}`);
  return { loadMs: Number(result.stdout), wallMs };
}

/**
 * Each function's bundle as `serverless package` builds it (esbuild, minified), its size, and the
 * time a fresh Node process takes to import it (module init included: config check, clients, pools;
 * no connection). Fails when a bundle holds aws-sdk v2 or a dev dependency.
 */
export const bundleSizes: BenchCase = {
  name: 'bundles',
  async run(): Promise<BenchRow[]> {
    const outdir = await mkdtemp(join(tmpdir(), 'vigil-bundles-'));
    try {
      const manifest = JSON.parse(await readFile(join(projectRoot, 'package.json'), 'utf8')) as {
        devDependencies: Record<string, string>;
      };
      const bundles = await bundleFunctions(outdir);
      const bare = median(Array.from({ length: runs }, () => coldStart(undefined).wallMs));
      const rows: BenchRow[] = [];
      for (const bundle of bundles) {
        const forbidden = bundle.packages.filter((name) => name === 'aws-sdk' || name in manifest.devDependencies);
        if (forbidden.length > 0) throw new Error(`${bundle.name} bundles ${forbidden.join(', ')}`);
        const samples = Array.from({ length: runs }, () => coldStart(bundle.file));
        const loadMs = samples.map((sample) => sample.loadMs);
        const sdkClients = bundle.packages.filter((name) => name.startsWith('@aws-sdk/client-')).map((name) => name.slice(16));
        rows.push(
          {
            case: `bundles: ${bundle.name} size`,
            figure: bundle.bytes / 1024,
            unit: 'KiB',
            n: 1,
            reference: `gzip ${(bundle.gzipBytes / 1024).toFixed(0)} KiB; SDK clients: ${sdkClients.join(', ')}`,
          },
          {
            case: `bundles: ${bundle.name} load`,
            figure: median(loadMs),
            unit: 'ms',
            n: runs,
            reference: `min ${Math.min(...loadMs).toFixed(0)}, max ${Math.max(...loadMs).toFixed(0)} ms; process wall ${median(samples.map((sample) => sample.wallMs)).toFixed(0)} ms vs ${bare.toFixed(0)} ms for an empty node`,
          },
        );
      }
      return rows;
    } finally {
      await rm(outdir, { recursive: true, force: true });
    }
  },
};
