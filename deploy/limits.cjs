// How much of the account each function may use, and how fast the HTTP API may be called: a
// function that runs away (or is driven by a flood of requests) cannot starve the account's other
// functions or page someone without end. Read by serverless.yml at package time.
//   reservedConcurrency: 'none' (the default: reserve nothing, as an account whose concurrency
//   limit is too small to reserve any, such as a new account's 10, must), 'recommended' (the
//   defaults below, 16 in all), or JSON overriding some of them, e.g. {"rollbackDecision":10}.
//   httpApiRateLimit / httpApiBurstLimit: requests per second, steady and burst, for every route.
const defaults = { alerts: 5, probe: 1, cacheEfficiency: 1, rollbackDecision: 5, partitionMaintenance: 1, backup: 1, report: 2 };

function reservations(raw) {
  const text = String(raw ?? '').trim();
  if (text === 'none' || text === '') return undefined;
  if (text === 'recommended') return { ...defaults };
  let overrides;
  try {
    overrides = JSON.parse(text);
  } catch (error) {
    throw new Error(`reservedConcurrency: is not 'none', 'recommended' or JSON (${error.message})`);
  }
  const problems = [];
  for (const [name, value] of Object.entries(overrides ?? {})) {
    if (!(name in defaults)) problems.push(`reservedConcurrency: no function "${name}"`);
    else if (!Number.isInteger(value) || value < 1 || value > 1000) {
      problems.push(`reservedConcurrency: ${name} must be a whole number from 1 to 1000 (0 would stop it)`);
    }
  }
  if (problems.length) throw new Error(problems.join('; '));
  return { ...defaults, ...overrides };
}

const pascal = (name) => name.charAt(0).toUpperCase() + name.slice(1);

module.exports.defaults = defaults;
module.exports.reservations = reservations;

/** resources.extensions: each function's reserved concurrency, and the HTTP API's default stage throttled. */
module.exports.extensions = async ({ resolveVariable }) => {
  const number = async (name, min, max) => {
    const value = Number(await resolveVariable(`param:${name}`));
    if (!Number.isFinite(value) || value < min || value > max) throw new Error(`${name}: must be a number from ${min} to ${max}`);
    return value;
  };
  const reserved = reservations(await resolveVariable('param:reservedConcurrency'));
  const functions = Object.fromEntries(
    Object.entries(reserved ?? {}).map(([name, count]) => [
      `${pascal(name)}LambdaFunction`,
      { Properties: { ReservedConcurrentExecutions: count } },
    ]),
  );
  return {
    ...functions,
    HttpApiStage: {
      Properties: {
        DefaultRouteSettings: {
          ThrottlingRateLimit: await number('httpApiRateLimit', 1, 10_000),
          ThrottlingBurstLimit: await number('httpApiBurstLimit', 1, 5_000),
        },
      },
    },
  };
};
