import type { Context } from 'aws-lambda';

type Remaining = Pick<Context, 'getRemainingTimeInMillis'>;

/** The time left to work: the invocation's remaining time less `marginMs`, never below zero. */
export function budgetFrom(context: Remaining, marginMs: number): number {
  return Math.max(0, context.getRemainingTimeInMillis() - marginMs);
}

/**
 * When work must end, on the clock `now` reads (Date.now by default; the probe times on
 * performance.now): `marginMs` before the invocation's deadline. A negative margin is a moment
 * after the deadline (when a run is surely dead).
 */
export function deadlineFrom(context: Remaining, marginMs: number, now: () => number = Date.now): number {
  const remainingMs = context.getRemainingTimeInMillis();
  return now() + (marginMs >= 0 ? Math.max(0, remainingMs - marginMs) : remainingMs - marginMs);
}

/**
 * A Lambda-shaped context whose time runs out at `deadlineMs` (epoch milliseconds): a run outside
 * Lambda (the Fargate task, `npm run invoke`, the local stack). Past the deadline it says 0.
 */
export function contextUntil(deadlineMs: number): Remaining {
  return { getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()) };
}
