// Refuses to package or deploy a stage other than `local` that would fail, or leak, on first
// contact with AWS. serverless.yml resolves custom.preflight from here during `serverless package`
// and `deploy`, so every problem is named, with its parameter, before anything is uploaded.
const { caFileProblem } = require('./database-ca.cjs');

const layerVersionArn = /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]{1,140}:\d+$/;
/** Query keys whose values are credentials; a URL carrying one writes the credential into the template. */
const secretQueryKey =
  /^(access_?token|token|api_?key|apikey|key|secret|client_?secret|password|passwd|pwd|signature|sig|x-amz-signature|x-amz-credential|auth)$/i;
const secretHeader = /authorization|cookie|api[-_]?key|token|secret|password/i;

class PreflightError extends Error {
  constructor(message) {
    super(message);
    this.name = 'PreflightError';
    // Serverless prints the stack of an error thrown here; the message is all a person needs.
    this.stack = message;
  }
}

/** Every URL inside a text (a parameter may hold JSON with URLs in it). */
function urlsIn(text) {
  return [...String(text).matchAll(/[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi)].map((match) => match[0]);
}

/** Why a URL may not be written into the template: a password in it, or a credential in its query. */
function credentialsIn(url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const reasons = [];
  if (parsed.password) reasons.push('a password in a URL');
  else if (parsed.username && /^postgres(ql)?:$/.test(parsed.protocol)) reasons.push('a database user in a URL');
  const keys = [...parsed.searchParams.keys()].filter((key) => secretQueryKey.test(key));
  if (keys.length) reasons.push(`a credential in a URL's query (${keys.join(', ')})`);
  return reasons.length ? reasons.join(' and ') : undefined;
}

/**
 * Headers that look like credentials would be written into the template. (Whether probeTargets is
 * valid at all, a literal token included, is the probe's own schema's to say: below.)
 */
function probeTargetProblems(raw) {
  let targets;
  try {
    targets = JSON.parse(raw || '[]');
  } catch {
    return [];
  }
  if (!Array.isArray(targets)) return [];
  const problems = [];
  targets.forEach((target, index) => {
    const name = typeof target?.name === 'string' ? `"${target.name}"` : `#${index + 1}`;
    for (const header of Object.keys(target?.headers ?? {})) {
      if (secretHeader.test(header)) {
        problems.push(
          `probeTargets: target ${name}: header "${header}" would be written into the template; give the token by reference (tokenSsmParameter or tokenSecretId)`,
        );
      }
    }
  });
  return problems;
}

/** Edit distance, for "did you mean". */
function distance(a, b) {
  const row = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const current = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length];
}

/**
 * `--param name=value` entries whose name serverless.yml does not declare: a typo (alertEmail for
 * alertEmails) would otherwise package with the parameter silently at its default.
 */
function unknownParamProblems(given, known) {
  const problems = [];
  for (const entry of given) {
    const name = String(entry).split('=')[0].trim();
    if (known.includes(name)) continue;
    const nearest = [...known].sort((a, b) => distance(name, a) - distance(name, b))[0];
    const hint =
      nearest && distance(name, nearest) <= Math.max(2, Math.floor(name.length / 3)) ? `; did you mean ${nearest}?` : '';
    problems.push(`--param ${name}: no such parameter${hint}`);
  }
  return problems;
}

/** Every problem of a deployed stage's parameters, in words that name the parameter. */
function preflightProblems(params) {
  const problems = [];
  const value = (name) => String(params[name] ?? '').trim();
  if (!value('alertEmails') && !value('alertPhoneNumbers')) {
    problems.push(
      'alertEmails: a deployed stage needs at least one subscriber (alertEmails or alertPhoneNumbers), or its alerts reach nobody',
    );
  }
  if (value('databaseSecret')) {
    problems.push(
      'databaseSecret: replaced by databaseSecretPrefix: each function now logs in with its own secret <prefix>/<function> (docs/deploying.md, "Database roles")',
    );
  }

  for (const [name, raw] of Object.entries(params)) {
    for (const url of urlsIn(raw)) {
      const why = credentialsIn(url);
      if (why) {
        problems.push(
          `${name}: holds ${why}, which would be written into the template in plain text; keep credentials in Secrets Manager or an SSM SecureString and pass their names`,
        );
      }
    }
  }
  if (/^postgres(ql)?:\/\//i.test(value('databaseSecretPrefix'))) {
    problems.push('databaseSecretPrefix: must be the start of Secrets Manager secret names, not a database URL');
  } else if (/^arn:/.test(value('databaseSecretPrefix'))) {
    problems.push(
      'databaseSecretPrefix: must be a name prefix (vigil/prod/database), not an ARN: each function reads <prefix>/<function>',
    );
  } else if (!value('databaseSecretPrefix')) {
    problems.push('databaseSecretPrefix: is empty; each function needs its own secret <prefix>/<function>');
  }
  if (!value('vpcSubnetIds') && value('databasePublic') !== 'true') {
    problems.push(
      'vpcSubnetIds: no VPC subnets, so the functions would run outside any VPC and cannot reach a private database; give vpcSubnetIds and vpcSecurityGroupIds, or --param databasePublic=true if the database is reachable from the internet',
    );
  }
  // Values of the template itself; what the functions read is checked with their own schemas (check, below).
  if (!['true', 'false', ''].includes(value('databasePublic'))) problems.push('databasePublic: must be true or false');
  for (const name of ['rollbackScheduleEnabled', 'reportWeeklyScheduleEnabled'])
    if (!['true', 'false', ''].includes(value(name))) problems.push(`${name}: "${value(name)}" must be true or false`);
  if (value('databaseSslMode') !== 'verify-full') {
    problems.push(
      `databaseSslMode: "${value('databaseSslMode')}" on a deployed stage would send the password to whoever answers; use verify-full (the RDS CA bundle ships with Vigil; another CA: databaseSslCaFile)`,
    );
  }
  if (value('databaseSslCaFile')) {
    const problem = caFileProblem(value('databaseSslCaFile'));
    if (problem) problems.push(problem);
  }
  if (!value('pgToolsLayerArn')) {
    problems.push(
      'pgToolsLayerArn: the backup function needs the pg tools layer (pg_dump, pg_restore, libpq at /opt); build and publish it (docs/deploying.md, "The pg tools layer") and give its version ARN',
    );
  } else if (!layerVersionArn.test(value('pgToolsLayerArn'))) {
    problems.push(
      `pgToolsLayerArn: "${value('pgToolsLayerArn')}" is not a layer version ARN (arn:aws:lambda:<region>:<account>:layer:<name>:<version>)`,
    );
  }
  const kmsKey = value('backupKmsKeyId');
  if (/(^|:)alias\//.test(kmsKey)) {
    problems.push(
      `backupKmsKeyId: "${kmsKey}" is an alias, and IAM matches kms:GenerateDataKey and kms:Decrypt against the key's ARN, so every upload would be denied; give the key ARN (aws kms describe-key --key-id ${kmsKey.replace(/^arn:[^:]+:kms:[^:]+:\d+:/, '')} --query KeyMetadata.Arn --output text)`,
    );
  }
  problems.push(...probeTargetProblems(value('probeTargets')));
  return problems;
}

/** Whether osls runs a command that packages (package, deploy, deploy function): only those are checked. */
function packages(argv) {
  const firstOption = argv.findIndex((arg) => arg.startsWith('-'));
  const [command, subcommand] = argv.slice(0, firstOption === -1 ? undefined : firstOption);
  return command === 'package' || (command === 'deploy' && subcommand !== 'list');
}

/**
 * Each function's environment as the template will give it, checked by the function's own loader
 * and schemas (local/template-environment.ts, TypeScript, loaded through tsx): what a function would
 * refuse at cold start is refused now. A variable that cannot be resolved is reported as osls says it.
 */
async function environmentProblems(resolveVariable, stage) {
  const { checkTemplateEnvironments, templateVariables } = require('tsx/cjs/api').require(
    '../local/template-environment.ts',
    __filename,
  );
  const { bucketNameValue } = require('./backup-storage.cjs');
  const unresolved = [];
  const resolved = async (path, names) => {
    const environment = {};
    for (const name of names) {
      try {
        environment[name] = await resolveVariable(`self:${path}.${name}`);
      } catch (error) {
        // osls's words around the helper's own message, and the stack, are left out.
        const message = String(error.message).split('\n')[0] ?? '';
        unresolved.push(message.replace(/^.*Received rejection: (\w*Error: )?/, ''));
        // Not known, so not checked: as a value CloudFormation computes.
        environment[name] = { 'Fn::Unresolved': name };
      }
    }
    return environment;
  };
  const variables = templateVariables();
  const functions = {};
  for (const [name, names] of Object.entries(variables.functions))
    functions[name] = await resolved(`functions.${name}.environment`, names);
  const checked = checkTemplateEnvironments({
    region: String(await resolveVariable('self:provider.region')),
    provider: await resolved('provider.environment', variables.provider),
    functions,
    refs: { BackupBucket: bucketNameValue(stage, String((await resolveVariable('param:backupBucketName')) ?? '').trim()) },
  });
  return { problems: [...checked.problems, ...unresolved], deployTime: checked.deployTime };
}

module.exports.preflightProblems = preflightProblems;
module.exports.unknownParamProblems = unknownParamProblems;
module.exports.urlsIn = urlsIn;
module.exports.credentialsIn = credentialsIn;

/** custom.preflight: "checked" when the stage may be packaged, otherwise an error naming every problem. */
module.exports.check = async ({ options, resolveVariable, resolveConfigurationProperty }) => {
  const stage = await resolveVariable('sls:stage');
  const declared = (await resolveConfigurationProperty(['params'])) ?? {};
  // On every stage and command, local too: a mistyped --param never packages silently.
  const unknown = unknownParamProblems([options?.param ?? []].flat(), [
    ...new Set(Object.values(declared).flatMap((stageParams) => Object.keys(stageParams ?? {}))),
    'databaseSecret',
  ]);
  if (unknown.length > 0)
    throw new PreflightError(`Unknown parameters:\n${unknown.map((problem) => `  - ${problem}`).join('\n')}`);
  if (stage === 'local') return 'local stage: not checked';
  // `npm run remove`, `info`, `print`: nothing is built or uploaded, and a stage must stay removable.
  if (!packages(process.argv.slice(2))) return 'not packaging: not checked';
  const names = new Set([...Object.keys(declared.default ?? {}), ...Object.keys(declared[stage] ?? {})]);
  const params = {};
  for (const name of names) params[name] = String((await resolveVariable(`param:${name}`)) ?? '');
  // Replaced by one secret per function; a deploy still passing it would read no secret at all.
  let retired;
  try {
    retired = await resolveVariable('param:databaseSecret');
  } catch {
    retired = undefined;
  }
  if (retired) params.databaseSecret = String(retired);
  const problems = preflightProblems(params);
  const environment = await environmentProblems(resolveVariable, stage);
  // A parameter refused above is often refused again by a helper that resolves it: said once.
  problems.push(...environment.problems.filter((problem) => !problems.includes(problem)));
  if (problems.length > 0) {
    throw new PreflightError(
      `Stage "${stage}" cannot be deployed as configured:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`,
    );
  }
  process.stderr.write(
    `preflight: every function's environment passes its own configuration schemas; known only at deploy time, not checked: ${environment.deployTime.join(', ')}\n`,
  );
  return 'checked';
};
