import { describe, expect, it } from 'vitest';
import { budgetFrom, contextUntil, deadlineFrom } from '../../lib/deadline';

const remaining = (ms: number) => ({ getRemainingTimeInMillis: () => ms });

describe('deadline', () => {
  it('leaves the margin before the invocation ends, never a negative budget', () => {
    expect(budgetFrom(remaining(30_000), 5_000)).toBe(25_000);
    expect(budgetFrom(remaining(3_000), 5_000)).toBe(0);
    expect(deadlineFrom(remaining(30_000), 5_000, () => 1_000)).toBe(26_000);
    expect(deadlineFrom(remaining(3_000), 5_000, () => 1_000)).toBe(1_000);
  });

  it('a negative margin is a moment after the deadline (a run surely dead)', () => {
    expect(deadlineFrom(remaining(30_000), -60_000, () => 1_000)).toBe(91_000);
  });

  it('a run outside Lambda counts down to its own deadline', () => {
    const context = contextUntil(Date.now() + 10_000);
    expect(context.getRemainingTimeInMillis()).toBeGreaterThan(9_000);
    expect(context.getRemainingTimeInMillis()).toBeLessThanOrEqual(10_000);
  });

  it('past its deadline a run outside Lambda has no time left, never a negative time', () => {
    expect(contextUntil(Date.now() - 5_000).getRemainingTimeInMillis()).toBe(0);
  });
});
