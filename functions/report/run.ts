import type { S3Client } from '@aws-sdk/client-s3';
import type { Database } from '../../lib/db';
import { errorMessage } from '../../lib/errors';
import type { Thresholds } from '../../lib/thresholds';
import { listBackups } from './backups';
import type { ReportConfig } from './config';
import { renderPage } from './page';
import { periodEnding, previousPeriod } from './period';
import { pageKeyOf, publishPage } from './publish';
import { readLargeCacheEntries, readPartitions, readPeriod } from './read';
import type { PeriodKind, RecordedNow } from './recorded';
import { buildReport, type Report } from './report';
import { type ReportTrigger, storeReport } from './store';

export interface ReportSources {
  db: Database;
  /** The bucket's client; without it (or without REPORT_BUCKET) the backups are not listed and no page is stored. */
  s3?: S3Client;
  config: ReportConfig;
  thresholds: Thresholds;
  stage: string;
}

export interface MadeReport {
  id: string;
  report: Report;
  html: string;
  page?: { key: string; url: string; expiresAt: Date; location: string };
}

async function readNow(sources: ReportSources, at: Date): Promise<RecordedNow> {
  const { db, s3, config, thresholds } = sources;
  let backups: RecordedNow['backups'];
  if (!config.bucket || !s3) backups = { missing: 'REPORT_BUCKET is not set: the backups are not listed' };
  else {
    try {
      backups = await listBackups(s3, config.bucket, config.backupPrefix);
    } catch (error) {
      // A bucket that cannot be listed is a row without data, not a report that fails.
      backups = { missing: `s3://${config.bucket}/${config.backupPrefix}/ could not be listed: ${errorMessage(error)}` };
    }
  }
  return {
    at,
    backups,
    partitions: await readPartitions(db),
    largeCacheEntries: await readLargeCacheEntries(db, config, thresholds.cache.weeklyLargeEntryKb),
  };
}

/**
 * The report of the day or week ending at `end`: read, judged, stored in vigil.reports and, with
 * `publish`, its page put into the bucket with a signed link.
 */
export async function makeReport(
  sources: ReportSources,
  kind: PeriodKind,
  end: Date,
  options: { trigger: ReportTrigger; requestedBy: string; publish: boolean },
): Promise<MadeReport> {
  const { db, s3, config, thresholds, stage } = sources;
  const period = periodEnding(kind, end);
  const previous = previousPeriod(period);
  const generatedAt = new Date();
  const report = buildReport(
    {
      recorded: await readPeriod(db, config, period),
      previousRecorded: await readPeriod(db, config, previous),
      now: await readNow(sources, generatedAt),
      thresholds,
      ...(config.bucket ? { backupLocation: `s3://${config.bucket}/${config.backupPrefix}/` } : {}),
    },
    generatedAt,
  );
  const html = renderPage(report, stage);
  const page =
    options.publish && s3 && config.bucket
      ? await publishPage(s3, config.bucket, pageKeyOf(config.pagePrefix, period), html, config.linkSeconds, generatedAt)
      : undefined;
  const id = await storeReport(db, report, options.trigger, options.requestedBy, page?.key ?? null);
  return { id, report, html, ...(page ? { page } : {}) };
}
