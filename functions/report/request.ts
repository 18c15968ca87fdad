import type { HttpEvent } from '../../lib/http';
import { httpError } from '../../lib/http';
import type { PeriodKind } from './recorded';

/** GET /report?period=day|week (day when unset). */
export function requestedPeriod(event: HttpEvent): PeriodKind {
  const period = event.queryStringParameters?.period ?? 'day';
  if (period !== 'day' && period !== 'week') throw httpError(400, { error: 'period must be day or week' });
  return period;
}

/** A scheduled event's period: the weekly schedule says week in its detail; anything else is a day. */
export function scheduledPeriod(event: unknown): PeriodKind {
  const detail = (event as { detail?: { period?: unknown } } | null)?.detail;
  return detail?.period === 'week' ? 'week' : 'day';
}
