import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';

/*
 * The functions as the packaged CloudFormation template defines them: runtime, handler, timeout,
 * memory, layers, and the environment, with CloudFormation's intrinsic functions evaluated against
 * the local stack (a Ref to the alert topic becomes the local topic's ARN, and so on).
 */

export interface Template {
  Conditions?: Record<string, unknown>;
  Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
}

export interface PackagedFunction {
  /** Its key in serverless.yml (the zip is named for it). */
  name: string;
  logicalId: string;
  functionName: string;
  handler: string;
  runtime: string;
  architecture: string;
  timeoutSeconds: number;
  memoryMb: number;
  ephemeralStorageMb: number;
  layers: string[];
  environment: Record<string, string>;
  zipFile: string;
  roleLogicalId?: string;
}

export interface LocalResources {
  region: string;
  account: string;
  /** Logical ids (Ref) of the resources the environment may name, as the local stack has them. */
  refs: Record<string, string>;
  /** Fn::GetAtt of those resources, keyed `LogicalId.Attribute`. */
  attributes?: Record<string, string>;
}

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

/** Evaluates the intrinsic functions a function's properties use; anything else is refused by name. */
export function evaluate(value: unknown, template: Template, local: LocalResources, where: string): unknown {
  const pseudo: Record<string, string> = {
    'AWS::Region': local.region,
    'AWS::AccountId': local.account,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': 'vigil-rehearsal',
  };
  const ref = (name: string): string => {
    const found = pseudo[name] ?? local.refs[name];
    if (found === undefined) throw new TemplateError(`${where}: Ref ${name} has no local counterpart`);
    return found;
  };
  const condition = (name: string): boolean => {
    const definition = template.Conditions?.[name];
    if (definition === undefined) throw new TemplateError(`${where}: no condition ${name}`);
    return Boolean(evaluate(definition, template, local, where));
  };
  if (Array.isArray(value)) {
    return value.map((item) => evaluate(item, template, local, where)).filter((item) => item !== noValue);
  }
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  const [key, argument] = entries[0] ?? [];
  if (entries.length === 1 && key) {
    switch (key) {
      case 'Ref':
        return argument === 'AWS::NoValue' ? noValue : ref(String(argument));
      case 'Condition':
        return condition(String(argument));
      case 'Fn::If': {
        const [name, whenTrue, whenFalse] = argument as [string, unknown, unknown];
        return evaluate(condition(name) ? whenTrue : whenFalse, template, local, where);
      }
      case 'Fn::Equals': {
        const [a, b] = (argument as unknown[]).map((item) => evaluate(item, template, local, where));
        return JSON.stringify(a) === JSON.stringify(b);
      }
      case 'Fn::Not':
        return !evaluate((argument as unknown[])[0], template, local, where);
      case 'Fn::And':
        return (argument as unknown[]).every((item) => evaluate(item, template, local, where));
      case 'Fn::Or':
        return (argument as unknown[]).some((item) => evaluate(item, template, local, where));
      case 'Fn::Join': {
        const [separator, items] = argument as [string, unknown[]];
        return (evaluate(items, template, local, where) as unknown[]).join(separator);
      }
      case 'Fn::Sub': {
        const text = typeof argument === 'string' ? argument : String((argument as [string])[0]);
        return text.replace(/\$\{([^}!]+)\}/g, (_match, name: string) => ref(name));
      }
      case 'Fn::GetAtt': {
        const name = [argument].flat().join('.');
        const found = local.attributes?.[name];
        if (found === undefined) throw new TemplateError(`${where}: Fn::GetAtt ${name} has no local counterpart`);
        return found;
      }
      default:
        if (key.startsWith('Fn::')) throw new TemplateError(`${where}: ${key} is not evaluated by the rehearsal`);
    }
  }
  return Object.fromEntries(entries.map(([name, item]) => [name, evaluate(item, template, local, `${where}.${name}`)]));
}

const noValue = Symbol('AWS::NoValue');

export async function readTemplate(packageDir: string): Promise<Template> {
  return JSON.parse(await readFile(join(packageDir, 'cloudformation-template-update-stack.json'), 'utf8')) as Template;
}

/** Every AWS::Lambda::Function of the template, with its environment resolved against the local stack. */
export function packagedFunctions(template: Template, packageDir: string, local: LocalResources): PackagedFunction[] {
  return Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::Lambda::Function')
    .map(([logicalId, resource]) => {
      const properties = resource.Properties;
      const code = properties.Code as { S3Key?: string };
      if (!code.S3Key) throw new TemplateError(`${logicalId}: Code has no S3Key naming its zip`);
      const zip = basename(code.S3Key);
      const variables = (properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
      const environment: Record<string, string> = {};
      for (const [variable, value] of Object.entries(variables)) {
        const resolved = evaluate(value, template, local, `${logicalId}.Environment.${variable}`);
        if (resolved === noValue) continue;
        if (typeof resolved !== 'string' && typeof resolved !== 'number' && typeof resolved !== 'boolean') {
          throw new TemplateError(`${logicalId}.Environment.${variable}: resolves to ${JSON.stringify(resolved)}, not a value`);
        }
        environment[variable] = String(resolved);
      }
      const layers = (evaluate(properties.Layers ?? [], template, local, `${logicalId}.Layers`) as unknown[]).map(String);
      const role = properties.Role as { 'Fn::GetAtt'?: [string, string] } | undefined;
      return {
        name: zip.replace(/\.zip$/, ''),
        logicalId,
        functionName: String(properties.FunctionName),
        handler: String(properties.Handler),
        runtime: String(properties.Runtime),
        architecture: String((properties.Architectures as string[] | undefined)?.[0] ?? 'x86_64'),
        timeoutSeconds: Number(properties.Timeout ?? 3),
        memoryMb: Number(properties.MemorySize ?? 128),
        ephemeralStorageMb: Number((properties.EphemeralStorage as { Size?: number } | undefined)?.Size ?? 512),
        layers,
        environment,
        zipFile: join(packageDir, zip),
        roleLogicalId: role?.['Fn::GetAtt']?.[0],
      };
    });
}

/**
 * The environment of the backup task's container (BackupTaskDefinition, backupRunner=fargate),
 * resolved against the local stack; empty when the template holds no task.
 */
export function backupTaskEnvironment(template: Template, local: LocalResources): Record<string, string> {
  const definition = template.Resources.BackupTaskDefinition?.Properties as
    | { ContainerDefinitions: Array<{ Environment?: Array<{ Name: string; Value: unknown }> }> }
    | undefined;
  const environment = definition?.ContainerDefinitions[0]?.Environment ?? [];
  return Object.fromEntries(
    environment.map(({ Name, Value }) => [Name, String(evaluate(Value, template, local, `BackupTaskDefinition ${Name}`))]),
  );
}
