import * as z from 'zod';
import { severities } from '../../lib/alerts';

/** Body of POST /alerts/test. */
export const testRequestSchema = z.strictObject({
  severity: z.enum(severities, { error: `must be one of ${severities.join(', ')}` }),
  note: z.string().max(500, 'must be at most 500 characters').optional(),
});

/** Where each severity is delivered, per the topic's subscription filter policies. */
export function routedTo(severity: (typeof severities)[number]): string[] {
  return severity === 'critical' ? ['email', 'sms'] : severity === 'info' ? [] : ['email'];
}
