import type { Alert } from '../../lib/alerts';

/** A probe alert as the probe function would raise it; fields overridable. */
export function sampleAlert(overrides: Partial<Alert> = {}): Alert {
  return {
    key: 'probe:dashboard:p95',
    severity: 'major',
    title: 'Dashboard load p95 over budget',
    summary: 'The new dashboard took longer than its budget in 2 of the last 3 probe runs.',
    measurements: [
      {
        name: 'p95 load time',
        value: 1840,
        unit: 'ms',
        threshold: { operator: '>', value: 1000 },
        window: 'last 3 runs',
        sampleCount: 30,
      },
      { name: 'error rate', value: null, unit: '%', missingReason: 'no requests in the window' },
    ],
    source: 'probe',
    runbook: 'probe-dashboard-p95',
    action: 'Check the demo app latency switch and the database; consider the rollback decision.',
    observedAt: new Date('2026-11-22T03:20:00Z'),
    ...overrides,
  };
}
