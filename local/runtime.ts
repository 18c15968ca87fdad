import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './paths';

/*
 * The deploy runtime (deploy/runtime.json, which serverless.yml reads too): the Lambda runtime the
 * functions are deployed on, its Node major, and the pinned build that CI and the rehearsal run.
 */
interface RuntimeFile {
  lambdaRuntime: string;
  node: { version: string; package: string; integrity: string };
}

const runtimeFile = JSON.parse(readFileSync(join(projectRoot, 'deploy', 'runtime.json'), 'utf8')) as RuntimeFile;

const major = /^nodejs(\d+)\.x$/.exec(runtimeFile.lambdaRuntime)?.[1];
if (!major) throw new Error(`deploy/runtime.json: lambdaRuntime "${runtimeFile.lambdaRuntime}" is not a nodejs<major>.x runtime`);
if (runtimeFile.node.version.split('.')[0] !== major) {
  throw new Error(`deploy/runtime.json: node ${runtimeFile.node.version} is not of ${runtimeFile.lambdaRuntime}'s major`);
}

export const deployRuntime = {
  lambdaRuntime: runtimeFile.lambdaRuntime,
  nodeMajor: Number(major),
  nodeVersion: runtimeFile.node.version,
  /** What serverless-esbuild derives from provider.runtime. */
  esbuildTarget: `node${major}`,
};

/** A node binary of the deploy runtime's major: this one when it is, else the pinned build (local/node-runtime.sh). */
export function deployNodeBinary(): string {
  if (Number(process.versions.node.split('.')[0]) === deployRuntime.nodeMajor) return process.execPath;
  return execFileSync(join(projectRoot, 'local', 'node-runtime.sh'), { encoding: 'utf8' }).trim();
}
