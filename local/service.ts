import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { projectRoot } from './paths';
import { deployRuntime } from './runtime';

export interface ServiceFunction {
  /** Path of the handler's TypeScript file, relative to the project root. */
  handlerFile: string;
  exportName: string;
  timeoutSeconds: number;
  memorySize: number;
  events: unknown[];
}

/** custom.esbuild of serverless.yml: what serverless-esbuild hands esbuild, and the bundles' extension. */
export interface ServiceEsbuildOptions {
  minify: boolean;
  keepNames: boolean;
  sourcemap: boolean;
  platform: 'node';
  format: 'esm';
  outputFileExtension: '.mjs';
  banner: { js: string };
  /** Which entry of a package.json without `exports` esbuild takes: ES builds first, which it can tree-shake. */
  mainFields: string[];
}

interface ServerlessYaml {
  params?: Record<string, Record<string, unknown>>;
  provider?: { timeout?: number; memorySize?: number };
  custom: { esbuild: ServiceEsbuildOptions };
  functions?: Record<string, { handler: string; timeout?: number; memorySize?: number; events?: unknown[] }> | null;
}

/** The functions of serverless.yml, keyed by their serverless.yml name. */
export function serviceFunctions(): Record<string, ServiceFunction> {
  const service = load(readFileSync(join(projectRoot, 'serverless.yml'), 'utf8')) as ServerlessYaml;
  const functions: Record<string, ServiceFunction> = {};
  for (const [name, definition] of Object.entries(service.functions ?? {})) {
    const dot = definition.handler.lastIndexOf('.');
    functions[name] = {
      handlerFile: `${definition.handler.slice(0, dot)}.ts`,
      exportName: definition.handler.slice(dot + 1),
      timeoutSeconds: definition.timeout ?? service.provider?.timeout ?? 6,
      memorySize: definition.memorySize ?? service.provider?.memorySize ?? 1024,
      events: definition.events ?? [],
    };
  }
  return functions;
}

/** How `serverless package` bundles each function (serverless-esbuild), for the tools that bundle as it does. */
export function serviceEsbuildOptions(): ServiceEsbuildOptions {
  const service = load(readFileSync(join(projectRoot, 'serverless.yml'), 'utf8')) as ServerlessYaml;
  return service.custom.esbuild;
}

/**
 * The esbuild options of every bundle built as `serverless package` builds it: those of
 * custom.esbuild that serverless-esbuild passes on to esbuild, and the deploy runtime's target (as
 * serverless-esbuild derives it from provider.runtime). The tools that bundle take them from here,
 * so an option of serverless.yml named here reaches all of them.
 */
export function packagedBuildOptions() {
  const { minify, keepNames, sourcemap, platform, format, banner, mainFields } = serviceEsbuildOptions();
  return {
    bundle: true,
    minify,
    keepNames,
    sourcemap,
    platform,
    format,
    banner,
    mainFields,
    target: deployRuntime.esbuildTarget,
  };
}

/** The stage parameters of serverless.yml for the local stage (its own over the defaults), as strings. */
export function localParams(): Record<string, string> {
  const service = load(readFileSync(join(projectRoot, 'serverless.yml'), 'utf8')) as ServerlessYaml;
  return Object.fromEntries(
    Object.entries({ ...service.params?.default, ...service.params?.local }).map(([name, value]) => [name, String(value)]),
  );
}
