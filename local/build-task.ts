import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { build } from 'esbuild';
import { isMainModule } from './cli';
import { projectRoot } from './paths';
import { packagedBuildOptions } from './service';

/*
 * `npm run build:task -- <outdir> [<databaseSslCaFile>]`: the backup's Fargate entry point (functions/backup/task.ts)
 * bundled as serverless-esbuild bundles the functions (custom.esbuild of serverless.yml, the deploy
 * runtime's target, an ES module), into <outdir>/task.js with its source map and a package.json of type module, and the stage's CA file when it
 * names one (as serverless packages it into each function). The Dockerfile runs this; the
 * task test runs the same bundle with the task definition's environment.
 */
export async function buildTask(outdir: string, caFile?: string): Promise<string> {
  const outfile = join(outdir, 'task.js');
  await build({
    entryPoints: [join(projectRoot, 'functions/backup/task.ts')],
    outfile,
    ...packagedBuildOptions(),
    logLevel: 'warning',
  });
  // task.js stays the name the task definition and the image run (`node /app/task.js`); this makes it an ES module.
  writeFileSync(join(outdir, 'package.json'), `${JSON.stringify({ type: 'module' })}\n`);
  if (caFile) {
    // The stage's databaseSslCaFile (a file of the project), where the task's DATABASE_SSL_CA_FILE names it.
    const target = join(outdir, caFile);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(join(projectRoot, caFile), target);
  }
  return outfile;
}

if (isMainModule(import.meta.url)) {
  const outdir = resolve(process.argv[2] ?? join(projectRoot, 'dist', 'backup-task'));
  buildTask(outdir, process.argv[3] || undefined).then(
    (file) => process.stdout.write(`built ${file}\n`),
    (error: Error) => {
      process.stderr.write(`build failed: ${error.message}\n`);
      process.exit(1);
    },
  );
}
