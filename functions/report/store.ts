import type { Database } from '../../lib/db';
import { redactDeep } from '../../lib/redact';
import type { Report } from './report';

export type ReportTrigger = 'schedule' | 'http' | 'cli';

/** The report as made: its rows whole, so a digest can be read again and periods compared. */
export async function storeReport(
  db: Database,
  report: Report,
  trigger: ReportTrigger,
  requestedBy: string,
  pageKey: string | null,
): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO vigil.reports (period, period_start, period_end, generated_at, trigger, requested_by, missed, verdicts, scorecard, page_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
    [
      report.period.kind,
      report.period.start,
      report.period.end,
      report.generatedAt,
      trigger,
      requestedBy,
      report.missed,
      JSON.stringify(report.verdicts),
      JSON.stringify(redactDeep({ rows: report.rows, recommendations: report.recommendations, alerts: report.alerts })),
      pageKey,
    ],
  );
  return String(rows[0]?.id);
}
