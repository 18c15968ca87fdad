import { describe, expect, it } from 'vitest';
import {
  type Comparison,
  judgeRun,
  type SourceState,
  warmUpAfter,
  withWarmUp,
} from '../../../functions/cache-efficiency/judgement';
import type { SlicePlan } from '../../../functions/cache-efficiency/slice-plan';
import type { SnapshotComparison } from '../../../functions/cache-efficiency/table-delta';
import { counterWindow } from '../../../functions/cache-efficiency/window';

const at = (minute: number) => new Date(Date.UTC(2026, 10, 22, 3, minute));
const config = { minLookups: 10, warmupMinutes: 30, sampleFromEntries: 1_000_000, sampleHalfWidthPoints: 1 };
const wholeTable: SlicePlan = { slice: null, pivot: null, tableEntries: 100, notes: [] };
const state = (overrides: Partial<SourceState> = {}): SourceState => ({
  snapshot_taken_at: at(0),
  snapshot_rows: '100',
  counters: null,
  counters_taken_at: null,
  warming_until: null,
  warming_reason: null,
  sample_pivot: null,
  snapshot_fraction: null,
  next_fraction: null,
  sample_refusal: null,
  census_taken_at: null,
  census_rows: null,
  last_census_at: null,
  ...overrides,
});
const comparison = (overrides: Partial<SnapshotComparison> = {}): Comparison => ({
  delta: {
    currentRows: 100,
    newRows: 5,
    deletedRows: 0,
    recalculatedRows: 5,
    resetRows: 0,
    backdatedRows: 0,
    hits: 90,
    hitsSinceCalculation: 90,
    previousRows: 100,
    snapshotTable: 'vigil.snapshot',
    nonRandomKeys: 0,
    ...overrides,
  },
  moved: false,
  overlap: null,
});

describe('judgement', () => {
  it('starts a warm-up of one TTL from the latest restart, and keeps a later stored one', () => {
    const restarts = [
      { at: at(10), why: 'counters reset' },
      { at: at(5), why: 'older restart' },
    ];
    expect(warmUpAfter(undefined, restarts, 30)).toEqual({ until: at(40), reason: `counters reset at ${at(10).toISOString()}` });
    const stored = state({ warming_until: at(50), warming_reason: 'deploy' });
    expect(warmUpAfter(stored, restarts, 30)).toEqual({ until: at(50), reason: 'deploy' });
    expect(warmUpAfter(undefined, restarts, 0)).toEqual({ until: null, reason: null });
  });

  it('marks as warming only the windows that start inside the warm-up', () => {
    const inside = counterWindow(
      { hits: 0, misses: 0, errors: 0, startedAt: null, takenAt: at(0) },
      { hits: 90, misses: 10, errors: 0, startedAt: null, takenAt: at(15) },
      10,
    );
    const after = { ...inside, windowStart: at(45) };
    const [warming, judged] = withWarmUp([inside, after], { until: at(40), reason: 'restart' });
    expect(warming).toMatchObject({ state: 'no_data' });
    expect(judged).toBe(after);
    expect(withWarmUp([inside], { until: null, reason: null })).toEqual([inside]);
  });

  it('judges the table window from the snapshots and leaves the whole table for the next run', () => {
    const judged = judgeRun({
      config,
      state: state(),
      reading: undefined,
      now: at(15),
      plan: wholeTable,
      comparison: comparison(),
    });
    expect(judged.windows).toHaveLength(1);
    expect(judged.windows[0]).toMatchObject({ source: 'table', state: 'ok', hits: 90, misses: 10 });
    expect(judged).toMatchObject({ warmUp: { until: null, reason: null }, refusal: null, nextFraction: null });
    expect(judged.census).toBeUndefined();
  });

  it('reports a counters query that failed as no data and keeps the table window', () => {
    const judged = judgeRun({
      config,
      state: state(),
      reading: { error: 'CACHE_COUNTERS_QUERY: could not run' },
      now: at(15),
      plan: wholeTable,
      comparison: comparison(),
    });
    expect(judged.windows.map((window) => [window.source, window.state])).toEqual([
      ['counters', 'no_data'],
      ['table', 'ok'],
    ]);
    expect(judged.counters).toBeUndefined();
  });
});
