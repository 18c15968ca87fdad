import * as z from 'zod';
import { type SignalName, signalNames, signalRanges } from './matrix';

/** A what-if value: a finite number within what the signal can measure (0-100 for a percentage of requests). */
function overrideOf(name: SignalName) {
  const { min, max } = signalRanges[name];
  const number = z.number({ error: 'must be a number' }).finite().min(min, `must be at least ${min}`);
  return (max === undefined ? number : number.max(max, `must be at most ${max}`)).optional();
}

/** Body of POST /rollback/decision: overrides make a what-if; complaints are the caller's own count. */
export const decisionRequestSchema = z.strictObject({
  overrides: z.strictObject(Object.fromEntries(signalNames.map((name) => [name, overrideOf(name)]))).optional(),
  complaintsPerHour: z.number({ error: 'must be a number' }).finite().min(0, 'must not be negative').optional(),
});
