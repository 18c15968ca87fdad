import { describe, expect, it } from 'vitest';
import { probeConfig } from '../../functions/probe/config';
import { loadConfig } from '../../lib/config';
import type { ConfigError } from '../../lib/errors';

const target = (overrides: Record<string, unknown> = {}) => ({
  name: 'dashboard-new',
  url: 'https://app.example.org/api/portfolio/complete',
  ...overrides,
});
const problems = (env: Record<string, string>) => {
  try {
    loadConfig([probeConfig], env);
  } catch (error) {
    return (error as ConfigError).problems.map((problem) => `${problem.variable}: ${problem.message}`);
  }
  return [];
};

describe('probe configuration', () => {
  it('fills the documented defaults', () => {
    const { probe } = loadConfig([probeConfig], {
      PROBE_TARGETS: JSON.stringify([target({ tokenSsmParameter: '/vigil/prod/probe-token' })]),
    });
    expect(probe.targets[0]).toMatchObject({
      method: 'GET',
      expectStatus: 200,
      samples: 20,
      timeoutMs: 10000,
      maxRedirects: 5,
      headers: {},
    });
    expect(probe).toMatchObject({ concurrency: 64, alertBreaches: 2, alertRuns: 3, scenarios: [] });
  });

  it('names the target and the field of a bad definition, for every bad field', () => {
    const found = problems({
      PROBE_TARGETS: JSON.stringify([
        target({ samples: 0, budget: { degradedMs: 900, failMs: 500 } }),
        target({ name: 'Bad Name', url: 'ftp://x' }),
        { url: 'https://app.example.org/' },
      ]),
    });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^PROBE_TARGETS: target "dashboard-new": samples: /),
        'PROBE_TARGETS: target "dashboard-new": budget.degradedMs: degradedMs must not exceed failMs',
        expect.stringMatching(/^PROBE_TARGETS: target "Bad Name": name: must be 1-63/),
        'PROBE_TARGETS: target "Bad Name": url: must be an http(s) URL',
        expect.stringMatching(/^PROBE_TARGETS: target #3: name: /),
      ]),
    );
  });

  it('keeps tokens out of headers and literals out of deployed stages', () => {
    expect(problems({ PROBE_TARGETS: JSON.stringify([target({ headers: { Authorization: 'Bearer x' } })]) })[0]).toContain(
      'must not carry Authorization: give the token by reference',
    );
    expect(problems({ VIGIL_STAGE: 'prod', PROBE_TARGETS: JSON.stringify([target({ token: 'abc' })]) })).toEqual([
      'PROBE_TARGETS: target "dashboard-new": token: a literal token is for the local stage only; use tokenSsmParameter or tokenSecretId',
    ]);
  });

  it('checks that scenarios name existing targets, once each role', () => {
    const found = problems({
      PROBE_TARGETS: JSON.stringify([target({ timeoutMs: 2000 })]),
      PROBE_SCENARIOS: JSON.stringify([
        { name: 'old', role: 'old', requests: ['dashboard-new', 'nope'] },
        { name: 'older', role: 'old', requests: ['dashboard-new'] },
      ]),
    });
    expect(found).toEqual([
      'PROBE_SCENARIOS: scenario "old": requests: no target named "nope"',
      'PROBE_SCENARIOS: more than one scenario has role "old"',
    ]);
  });

  it('refuses samples x timeout that cannot fit the function timeout, naming the variables', () => {
    expect(
      problems({
        PROBE_TARGETS: JSON.stringify([target({ samples: 200, timeoutMs: 60_000 })]),
        PROBE_SCENARIOS: JSON.stringify([
          { name: 'old', role: 'old', requests: ['dashboard-new'] },
          { name: 'new', role: 'new', requests: ['dashboard-new'] },
        ]),
      }),
    ).toEqual([
      'PROBE_TARGETS: target "dashboard-new": samples x timeoutMs is 200 x 60000 ms = 12000 s at worst, over the 220 s a run has (PROBE_FUNCTION_TIMEOUT_SECONDS 240 - PROBE_DEADLINE_MARGIN_SECONDS 20)',
      'PROBE_SCENARIOS: pages take their samples one slot at a time: at worst 2400 s (old 20 x 60000 ms, new 20 x 60000 ms), over the 220 s a run has (PROBE_FUNCTION_TIMEOUT_SECONDS 240 - PROBE_DEADLINE_MARGIN_SECONDS 20)',
    ]);
    // The defaults fit: 20 samples x 10 s of one target in a 240 s function.
    expect(problems({ PROBE_TARGETS: JSON.stringify([target()]) })).toEqual([]);
    expect(problems({ PROBE_TARGETS: JSON.stringify([target()]), PROBE_DEADLINE_MARGIN_SECONDS: '240' })).toContain(
      'PROBE_DEADLINE_MARGIN_SECONDS: must be below PROBE_FUNCTION_TIMEOUT_SECONDS',
    );
  });

  it('says when the variable is not a JSON array', () => {
    expect(problems({ PROBE_TARGETS: '{"name":"x"}' })).toEqual(['PROBE_TARGETS: must be a JSON array of targets']);
    expect(problems({ PROBE_TARGETS: '[' })[0]).toMatch(/^PROBE_TARGETS: is not JSON/);
  });
});
