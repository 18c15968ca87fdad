import { describe, expect, it } from 'vitest';
import { childName, type ExistingChild, intervalStart, planPartitions } from '../../../functions/partition-maintenance/plan';

const utc = (text: string) => new Date(`${text}T00:00:00Z`);
const monthly = (name: string, from: string, to: string, managed = true): ExistingChild => ({
  name,
  from: utc(from),
  to: utc(to),
  isDefault: false,
  managed,
});

describe('partition plan', () => {
  it('creates the current month and three ahead, counted from the clock, across a year boundary', () => {
    const plan = planPartitions({
      parent: 'api_performance_log',
      interval: 'month',
      premake: 3,
      retention: null,
      now: new Date('2026-11-22T10:00:00Z'),
      children: [],
    });
    expect(plan.create.map((child) => child.name)).toEqual([
      'api_performance_log_2026_11',
      'api_performance_log_2026_12',
      'api_performance_log_2027_01',
      'api_performance_log_2027_02',
    ]);
    expect(plan.create[1]).toEqual({ name: 'api_performance_log_2026_12', from: utc('2026-12-01'), to: utc('2027-01-01') });
    expect(plan.futureAfterPlan).toBe(3);
  });

  it('creates nothing that exists, so a second run is idempotent', () => {
    const children = ['2026-11', '2026-12', '2027-01', '2027-02'].map((month, index, all) =>
      monthly(`t_${month.replace('-', '_')}`, `${month}-01`, `${all[index + 1] ?? '2027-03'}-01`),
    );
    expect(
      planPartitions({ parent: 't', interval: 'month', premake: 3, retention: null, now: utc('2026-11-30'), children }).create,
    ).toEqual([]);
  });

  it('counts from the clock even when the data is old: no partitions are made for a past that never ended', () => {
    const plan = planPartitions({
      parent: 't',
      interval: 'month',
      premake: 1,
      retention: null,
      now: utc('2026-01-15'),
      children: [monthly('t_2025_06', '2025-06-01', '2025-07-01')],
    });
    expect(plan.create.map((child) => child.name)).toEqual(['t_2026_01', 't_2026_02']);
  });

  it('retires only managed children fully past the retention', () => {
    const children = [
      monthly('t_2026_06', '2026-06-01', '2026-07-01'),
      monthly('t_2026_07', '2026-07-01', '2026-08-01'),
      monthly('t_2026_08', '2026-08-01', '2026-09-01'),
      monthly('t_2026_05', '2026-05-01', '2026-06-01', false),
    ];
    const plan = planPartitions({ parent: 't', interval: 'month', premake: 0, retention: 3, now: utc('2026-11-10'), children });
    expect(plan.retire.map((child) => child.name)).toEqual(['t_2026_06', 't_2026_07']);
  });

  it('skips, never drops, a child whose bounds overlap a planned one', () => {
    const plan = planPartitions({
      parent: 't',
      interval: 'month',
      premake: 1,
      retention: 0,
      now: utc('2026-11-10'),
      children: [monthly('t_odd', '2026-11-15', '2026-12-15', false)],
    });
    expect(plan.create).toEqual([]);
    expect(plan.skipped).toEqual([{ name: 't_odd', reason: expect.stringContaining('overlaps the planned t_2026_11') }]);
    expect(plan.retire).toEqual([]);
  });

  it('names weekly and daily children, weeks starting on Monday (ISO)', () => {
    expect(intervalStart(new Date('2026-11-22T10:00:00Z'), 'week')).toEqual(utc('2026-11-16'));
    expect(childName('t', utc('2026-11-16'), 'week')).toBe('t_2026_w47');
    expect(childName('t', utc('2026-12-28'), 'week')).toBe('t_2026_w53');
    expect(childName('t', utc('2027-01-04'), 'week')).toBe('t_2027_w01');
    expect(childName('t', utc('2026-11-22'), 'day')).toBe('t_2026_11_22');
    const daily = planPartitions({
      parent: 't',
      interval: 'day',
      premake: 2,
      retention: null,
      now: new Date('2026-12-31T23:00:00Z'),
      children: [],
    });
    expect(daily.create.map((child) => child.name)).toEqual(['t_2026_12_31', 't_2027_01_01', 't_2027_01_02']);
  });
});
