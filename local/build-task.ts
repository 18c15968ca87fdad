import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { load } from 'js-yaml';
import { projectRoot } from './migrate';
import { deployRuntime } from './runtime';

/*
 * `npm run build:task -- <outdir>`: the backup's Fargate entry point (functions/backup/task.ts)
 * bundled as serverless-esbuild bundles the functions (custom.esbuild of serverless.yml, the deploy
 * runtime's target), into <outdir>/task.js with its source map. The Dockerfile runs this; the
 * task test runs the same bundle with the task definition's environment.
 */
export async function buildTask(outdir: string): Promise<string> {
  const service = load(readFileSync(join(projectRoot, 'serverless.yml'), 'utf8')) as {
    custom: { esbuild: { minify: boolean; keepNames: boolean; sourcemap: boolean; platform: 'node'; format: 'cjs' } };
  };
  const options = service.custom.esbuild;
  const outfile = join(outdir, 'task.js');
  await build({
    entryPoints: [join(projectRoot, 'functions/backup/task.ts')],
    outfile,
    bundle: true,
    minify: options.minify,
    keepNames: options.keepNames,
    sourcemap: options.sourcemap,
    target: deployRuntime.esbuildTarget,
    platform: options.platform,
    format: options.format,
    logLevel: 'warning',
  });
  return outfile;
}

if (require.main === module) {
  const outdir = resolve(process.argv[2] ?? join(projectRoot, 'dist', 'backup-task'));
  buildTask(outdir).then(
    (file) => process.stdout.write(`built ${file}\n`),
    (error: Error) => {
      process.stderr.write(`build failed: ${error.message}\n`);
      process.exit(1);
    },
  );
}
