import { z } from 'zod';
import { signalNames } from './matrix';

const nonNegative = z.number({ error: 'must be a number' }).finite().min(0, 'must not be negative');

/** Body of POST /rollback/decision: overrides make a what-if; complaints are the caller's own count. */
export const decisionRequestSchema = z.strictObject({
  overrides: z
    .strictObject(
      Object.fromEntries(
        signalNames.map((name) => [
          name,
          name === 'slowerThanBaselinePercent' ? z.number().finite().optional() : nonNegative.optional(),
        ]),
      ),
    )
    .optional(),
  complaintsPerHour: nonNegative.optional(),
});
