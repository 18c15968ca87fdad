// The database statement timeout of each function, derived from its Lambda timeout by one rule:
// a statement Vigil sends is cut off with time left to record the failure, alert and answer before
// Lambda kills the invocation. serverless.yml sets DATABASE_STATEMENT_TIMEOUT_MS of every function
// from here; the rehearsal checks the result against each function's Timeout.

/** lib/config.ts's default, kept for functions whose Lambda timeout leaves room for it. */
const defaultStatementTimeoutMs = 30_000;
/** Left after a statement is cut off: a fifth of the timeout, at least 5 s. */
const reserveMs = (timeoutMs) => Math.max(5_000, Math.ceil(timeoutMs * 0.2));

function statementTimeoutMs(timeoutSeconds) {
  const timeoutMs = Number(timeoutSeconds) * 1000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new Error(`not a Lambda timeout: ${timeoutSeconds}`);
  const derived = Math.min(defaultStatementTimeoutMs, timeoutMs - reserveMs(timeoutMs));
  if (derived < 1_000) throw new Error(`a Lambda timeout of ${timeoutSeconds} s leaves no time for a database statement`);
  return derived;
}

module.exports.statementTimeoutMs = statementTimeoutMs;

// ${file(./deploy/timeouts.cjs):<function>} in serverless.yml: that function's own timeout, resolved.
for (const name of ['alerts', 'probe', 'cacheEfficiency', 'rollbackDecision', 'partitionMaintenance', 'backup', 'report']) {
  module.exports[name] = async ({ resolveVariable }) =>
    String(statementTimeoutMs(await resolveVariable(`self:functions.${name}.timeout`)));
}
