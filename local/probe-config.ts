import { completePath, legacyPaths } from './demo-app/dashboard-queries';
import { demoToken } from './demo-app/seed';

/**
 * The probe's configuration for the demo app: the nine endpoints as targets, the old dashboard
 * (eight calls, six connections, as a browser) and the new one (one call) as page scenarios.
 */
export function demoProbeEnvironment(
  demoAppUrl: string,
  samples: { target: number; page: number } = { target: 5, page: 20 },
): { PROBE_TARGETS: string; PROBE_SCENARIOS: string } {
  const name = (path: string) =>
    path
      .replace(/^\/api\//, '')
      .replace(/[^a-z0-9]+/gi, '-')
      .toLowerCase();
  const targets = [...legacyPaths, completePath].map((path) => ({
    name: name(path),
    url: `${demoAppUrl}${path}`,
    token: demoToken(1),
    assert: { path: 'success', equals: true },
    samples: samples.target,
    // Pages take their samples one slot at a time: 2 x 20 samples x 2 s fit a run at worst.
    timeoutMs: 2_000,
  }));
  const scenarios = [
    {
      name: 'dashboard-old',
      role: 'old',
      requests: legacyPaths.map(name),
      mode: 'parallel',
      connections: 6,
      samples: samples.page,
    },
    { name: 'dashboard-new', role: 'new', requests: [name(completePath)], samples: samples.page },
  ];
  return { PROBE_TARGETS: JSON.stringify(targets), PROBE_SCENARIOS: JSON.stringify(scenarios) };
}
