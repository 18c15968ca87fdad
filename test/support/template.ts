import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../local/paths';
import { packageService } from '../../local/sls';

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
    await packageService({ stage: options.stage, outputDir: output, params: options.params });
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

// Fn::Sub's own variable references, spelt out of a template literal's reach.
export const partition = ['$', '{AWS::Partition}'].join('');
export const region = ['$', '{AWS::Region}'].join('');
export const account = ['$', '{AWS::AccountId}'].join('');

export interface PolicyStatement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

/** Every statement of a role's inline policies. */
export function statementsOf(template: CloudFormationTemplate, roleLogicalId: string): PolicyStatement[] {
  const role = template.Resources[roleLogicalId];
  if (!role) throw new Error(`no resource ${roleLogicalId} in the template`);
  return (role.Properties.Policies as Array<{ PolicyDocument: { Statement: PolicyStatement[] } }>).flatMap(
    (policy) => policy.PolicyDocument.Statement,
  );
}

export const actionsOf = (statement: PolicyStatement) => [statement.Action].flat();

/** The names of the metrics the functions' code emits (emitMetric(..., 'Name', ...) and addMetric('Name', ...)). */
export async function emittedMetricNames(): Promise<Set<string>> {
  const names = new Set<string>();
  const directory = join(projectRoot, 'functions');
  for (const file of await readdir(directory, { recursive: true })) {
    if (!file.endsWith('.ts')) continue;
    const source = await readFile(join(directory, file), 'utf8');
    for (const match of source.matchAll(/emitMetric\([^,]+,\s*'(\w+)'|addMetric\('(\w+)'/g))
      names.add((match[1] ?? match[2]) as string);
    // Names kept in an object and emitted in a loop (the probe's reductions).
    for (const match of source.matchAll(/^\s+(\w+): comparison\./gm)) names.add(match[1] as string);
  }
  return names;
}
