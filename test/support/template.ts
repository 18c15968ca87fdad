import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../local/migrate';
import { serverlessBin, serverlessEnv } from '../../local/sls';

export interface CloudFormationTemplate {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown>; DependsOn?: unknown; DeletionPolicy?: string }>;
  Outputs?: Record<string, unknown>;
}

/** Runs `serverless package` offline (no AWS credentials needed) and reads the template it writes. */
export async function packageTemplate(options: {
  stage: string;
  params?: Record<string, string>;
}): Promise<CloudFormationTemplate> {
  const output = await mkdtemp(join(tmpdir(), 'vigil-package-'));
  try {
    const params = Object.entries(options.params ?? {}).flatMap(([name, value]) => ['--param', `${name}=${value}`]);
    try {
      await promisify(execFile)(serverlessBin, ['package', '--stage', options.stage, '--package', output, ...params], {
        cwd: projectRoot,
        env: { ...serverlessEnv(), AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: '' },
        timeout: 180_000,
      });
    } catch (error) {
      const failed = error as Error & { stdout?: string; stderr?: string };
      throw new Error(`serverless package failed:\n${failed.stdout ?? ''}\n${failed.stderr ?? ''}`, { cause: error });
    }
    return JSON.parse(
      await readFile(join(output, 'cloudformation-template-update-stack.json'), 'utf8'),
    ) as CloudFormationTemplate;
  } finally {
    await rm(output, { recursive: true, force: true });
  }
}

export function resourcesOfType(template: CloudFormationTemplate, type: string) {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}
