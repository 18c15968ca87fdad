import type { Alert } from '../../lib/alerts';
import { type BackupAlertKind, backupKeys } from '../../lib/alerts/keys';
import type { RestoreCheckReport } from './restore-check';
import type { BackupReport } from './run';

export type BackupAlertRequest = { action: 'raise'; alert: Alert } | { action: 'resolve'; key: string };

const hours = (seconds: number) => Math.round((seconds / 3600) * 10) / 10;

const sentence = (text: string) => (/[.!?]$/.test(text.trim()) ? text.trim() : `${text.trim()}.`);

/** What on-call runs to try again; `npm run invoke` needs the event, as backup has two. */
export const runBackupByHand = 'npm run invoke -- backup --event events/backup.schedule.json';

/** The first thing to fix, by what failed: pg_dump's words only when pg_dump is what failed. */
function whatToFix(failure: NonNullable<BackupReport['failure']>): string {
  switch (failure.step) {
    case 'versions':
      return 'Fix what the message names (credentials, the database, the pg_dump version).';
    case 'watchdog':
      return 'The backup ran out of time before the Lambda limit: give the function more memory (more CPU) or move this database to the Fargate task.';
    case 'verify':
      return 'The stored object did not read back as written: check the bucket (its encryption key, lifecycle rules, anyone else writing there).';
    case 'manifest':
      return "The manifest could not be written: check the role's s3:PutObject on the backup prefix and the bucket's KMS key.";
    default:
      if (failure.stderr === undefined) {
        return "S3 refused the upload: check the role's rights on the backup prefix, the bucket's KMS key and its policy.";
      }
      // The archive is listed as it streams: pg_restore's refusal is not pg_dump's failure.
      return /^pg_restore/.test(failure.message)
        ? 'pg_dump wrote something pg_restore --list cannot read as an archive: read its message below; check the pg_restore major (PG_RESTORE_PATH) against pg_dump.'
        : 'pg_dump failed: read its message below and fix its cause.';
  }
}

/** A failed backup (one alert, saying which stage and pg_dump's words), a failed retention, broken manifests. */
export function backupAlertRequests(report: BackupReport, now: Date): BackupAlertRequest[] {
  const base = { source: 'backup', observedAt: now };
  const database = report.database ?? 'database';
  const key = (kind: BackupAlertKind) => backupKeys.of(database, kind);
  const newestAge =
    'ageSeconds' in report.newest
      ? { name: 'age of the newest good backup', value: hours(report.newest.ageSeconds), unit: 'h' }
      : { name: 'age of the newest good backup', value: null, unit: 'h', missingReason: report.newest.missing };
  if (report.outcome === 'failed') {
    const failure = report.failure as NonNullable<BackupReport['failure']>;
    const secondary = failure.secondary?.length ? ` After it, also: ${failure.secondary.join('; ')}.` : '';
    return [
      {
        action: 'raise',
        alert: {
          ...base,
          key: key('failed'),
          severity: 'major',
          title: `Backup of ${database} failed at ${failure.step}`,
          summary: `${sentence(failure.message.slice(0, 400))}${secondary} Nothing was kept from this run and retention did not run: older backups are untouched.`,
          measurements: [newestAge],
          runbook: 'backup-failed',
          action: `${whatToFix(failure)} Then run the backup by hand with the stage's configuration:`,
          commands: [runBackupByHand],
          ...(failure.stderr ? { details: failure.stderr } : {}),
        },
      },
    ];
  }
  const requests: BackupAlertRequest[] = [{ action: 'resolve', key: key('failed') }];
  const retention = report.retention;
  const broken = retention?.broken ?? [];
  const futureDated = retention?.futureDated ?? [];
  if (retention?.error || broken.length > 0 || futureDated.length > 0) {
    requests.push({
      action: 'raise',
      alert: {
        ...base,
        key: key('retention'),
        severity: 'minor',
        title: `Backup retention of ${database} needs a look`,
        summary: [
          retention?.error ? `Expired backups could not be deleted: ${retention.error}` : '',
          broken.length > 0 ? `${broken.length} manifest(s) do not match their dump; Vigil leaves them alone.` : '',
          futureDated.length > 0
            ? `${futureDated.length} manifest(s) say their backup started after this run (clock skew between writers, or a manifest written by hand): they are kept and take no place in retention, and the newest backup is judged without them.`
            : '',
        ]
          .filter(Boolean)
          .join(' '),
        measurements: [
          { name: 'expired backups', value: retention?.expired.length ?? 0, unit: '' },
          { name: 'broken manifests', value: broken.length, unit: '' },
          { name: 'manifests dated in the future', value: futureDated.length, unit: '' },
        ],
        runbook: 'backup-retention',
        action: [
          retention?.error ? 'Check the function role may delete under the backup prefix.' : '',
          broken.length > 0 ? 'Inspect the broken manifests listed below.' : '',
          futureDated.length > 0
            ? 'Find who wrote the manifests dated in the future (listed below) and fix their clock; move them aside once their dumps are checked.'
            : '',
        ]
          .filter(Boolean)
          .join(' '),
        details: [
          ...broken.map((entry) => `${entry.key}: ${entry.reason}`),
          ...futureDated.map((entry) => `${entry.key}: dated ${entry.startedAt}, after this run`),
        ].join('\n'),
      },
    });
  } else {
    requests.push({ action: 'resolve', key: key('retention') });
  }
  return requests;
}

export function restoreCheckAlertRequests(database: string, report: RestoreCheckReport, now: Date): BackupAlertRequest[] {
  const key = backupKeys.of(database, 'restore-check');
  if (report.outcome === 'succeeded') return [{ action: 'resolve', key }];
  return [
    {
      action: 'raise',
      alert: {
        key,
        source: 'backup',
        observedAt: now,
        severity: 'major',
        title: `The newest backup of ${database} did not restore cleanly`,
        summary: report.failure ?? 'restore check failed',
        measurements: [{ name: 'tables with other row counts', value: report.mismatches.length, unit: '' }],
        runbook: 'backup-restore-check',
        action:
          'Restore the same backup by hand into an empty scratch database (never the backed-up one) and compare the counts; keep older backups until this clears (BACKUP_RETENTION_DRY_RUN=true).',
        ...(report.key ? { commands: [`npm run restore -- ${report.key} --target "$BACKUP_VERIFY_DATABASE_URL" --clean`] } : {}),
        details: report.mismatches
          .slice(0, 20)
          .map((row) => `${row.table}: dumped ${row.dumped ?? 'absent'}, restored ${row.restored ?? 'absent'}`)
          .join('\n'),
      },
    },
  ];
}
