import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { projectRoot } from '../../local/paths';
import { packagedBuildOptions, serviceEsbuildOptions, serviceFunctions } from '../../local/service';

export interface FunctionBundle {
  name: string;
  file: string;
  bytes: number;
  gzipBytes: number;
  /** npm packages whose code is in the bundle. */
  packages: string[];
  /** The files whose code is in the bundle, as esbuild names them (relative to the project). */
  inputs: string[];
}

/** The package a bundled input path belongs to (scoped or not), or undefined for the project's own code. */
function packageOf(input: string): string | undefined {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input.slice(input.lastIndexOf('node_modules/')));
  return match?.[1];
}

/**
 * Bundles every function as `serverless package` does (custom.esbuild of serverless.yml: bundled,
 * minified, the deploy runtime's target, ES modules with the require() banner) into `outdir`, and reads back what each bundle holds.
 */
export async function bundleFunctions(outdir: string): Promise<FunctionBundle[]> {
  const options = serviceEsbuildOptions();
  const bundles: FunctionBundle[] = [];
  for (const [name, definition] of Object.entries(serviceFunctions())) {
    const file = join(outdir, `${name}${options.outputFileExtension}`);
    const result = await build({
      entryPoints: [join(projectRoot, definition.handlerFile)],
      outfile: file,
      ...packagedBuildOptions(),
      sourcemap: false,
      metafile: true,
      logLevel: 'silent',
    });
    const code = readFileSync(file);
    bundles.push({
      name,
      file,
      bytes: code.length,
      gzipBytes: gzipSync(code, { level: 9 }).length,
      packages: packagesIn(result.metafile),
      inputs: Object.entries(result.metafile.outputs).flatMap(([, output]) =>
        Object.entries(output.inputs)
          .filter(([, input]) => input.bytesInOutput > 0)
          .map(([path]) => path),
      ),
    });
  }
  return bundles;
}

function packagesIn(metafile: Metafile): string[] {
  const packages = new Set<string>();
  for (const input of Object.keys(metafile.inputs)) {
    const name = packageOf(input);
    if (name) packages.add(name);
  }
  return [...packages].sort();
}

/** The environment each handler needs to pass its cold-start configuration check (no connection is made). */
export const coldStartEnvironment: Record<string, string> = {
  DATABASE_URL: 'postgres://vigil:unused@127.0.0.1:9/vigil',
  VIGIL_ALERT_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:vigil-bench-alerts',
  AWS_REGION: 'eu-west-1',
  PROBE_TARGETS: JSON.stringify([{ name: 'health', url: 'https://app.example.org/health' }]),
  PARTITION_TABLES: JSON.stringify([{ table: 'api_performance_log' }]),
  BACKUP_BUCKET: 'vigil-bench-backups',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
};
