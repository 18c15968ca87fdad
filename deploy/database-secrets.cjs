// One login and one secret per function: <databaseSecretPrefix>/<function> (Secrets Manager, RDS
// shape), each function's role allowed to read only its own (deploy/operations.cjs). The logins are
// those of deploy/database-roles.sql. Read by serverless.yml at package time.
const functionNames = ['alerts', 'probe', 'cacheEfficiency', 'rollbackDecision', 'partitionMaintenance', 'backup', 'report'];

/** The secret of one function; empty when no prefix is set (the local stage uses DATABASE_URL). */
function secretIdOf(prefix, name) {
  const trimmed = String(prefix ?? '')
    .trim()
    .replace(/\/+$/, '');
  return trimmed ? `${trimmed}/${name}` : '';
}

module.exports.functionNames = functionNames;
module.exports.secretIdOf = secretIdOf;
for (const name of functionNames) {
  module.exports[name] = async ({ resolveVariable }) => secretIdOf(await resolveVariable('param:databaseSecretPrefix'), name);
}
