import { CreateBucketCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { demoProbeEnvironment } from '../../local/probe-config';
import { firing, useHandlerFixture } from '../support/handler-fixture';
import { localS3Client } from '../support/s3';

/*
 * EventBridge and Lambda deliver at least once. Each scheduled event is delivered twice at the same
 * moment, and once more as a retry: the function runs once per slot, the duplicates answer
 * "duplicate of <slot>" and exit 0, nothing is counted twice and nothing pages.
 */
type Handler = (event: unknown, context: Context) => Promise<Record<string, unknown>>;

/** Two deliveries at once, then a third later (a retry): what each answered. */
async function deliveredThrice(handler: Handler, context: Context, event: unknown) {
  const [first, second] = await Promise.all([handler(event, context), handler(event, context)]);
  const retry = await handler(event, context);
  const ran = [first, second].filter((answer) => answer.duplicateOf === undefined);
  const duplicates = [first, second, retry].filter((answer) => answer.duplicateOf !== undefined);
  return { ran, duplicates };
}

const slotOf = (event: unknown) => new Date((event as { time: string }).time).toISOString();

describe('scheduled slots', () => {
  describe('rollbackDecision', () => {
    const fixture = useHandlerFixture({ functionName: 'rollbackDecision', remainingMs: 25_000 });
    it('moves the streak one step and stores one decision for one slot delivered three times', async () => {
      const handler = await fixture.handler<Handler>('rollback-decision');
      const event = firing('rollbackDecision.schedule.json');
      const { ran, duplicates } = await deliveredThrice(handler, fixture.context(), event);
      expect(ran).toHaveLength(1);
      expect(duplicates).toEqual([
        expect.objectContaining({ duplicateOf: slotOf(event) }),
        expect.objectContaining({ duplicateOf: slotOf(event), state: 'done' }),
      ]);
      const { rows } = await fixture.database.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM vigil.rollback_decisions WHERE trigger = 'schedule'",
      );
      expect(rows[0]?.n).toBe(1);
      expect(await fixture.delivered()).toEqual([]);
    });
  });

  describe('probe', () => {
    const fixture = useHandlerFixture({
      functionName: 'probe',
      remainingMs: 60_000,
      demo: { users: 3, transactionsPerUser: 5, adoptionPercent: 100 },
    });
    it('counts one run for one slot, so a double delivery never meets "2 of 3 runs" alone', async () => {
      const handler = await fixture.handler<Handler>('probe', demoProbeEnvironment(fixture.app.url, { target: 1, page: 2 }));
      const { ran, duplicates } = await deliveredThrice(handler, fixture.context(), firing('probe.schedule.json'));
      expect(ran).toHaveLength(1);
      expect(duplicates).toHaveLength(2);
      const { rows } = await fixture.database.db.query<{ n: number }>(
        'SELECT count(DISTINCT run_id)::int AS n FROM vigil.probe_results',
      );
      expect(rows[0]?.n).toBe(1);
    });
  });

  describe('cacheEfficiency', () => {
    const fixture = useHandlerFixture({
      functionName: 'cacheEfficiency',
      remainingMs: 60_000,
      demo: { users: 3, transactionsPerUser: 5, adoptionPercent: 100 },
    });
    it('measures one window for one slot: no second, seconds-long window stored as the latest', async () => {
      const handler = await fixture.handler<Handler>('cache-efficiency', {
        CACHE_COUNTERS_QUERY: "SELECT hits, misses, errors, started_at FROM cache_counters WHERE cache_name = 'user_performance'",
      });
      const { ran, duplicates } = await deliveredThrice(handler, fixture.context(), firing('cacheEfficiency.schedule.json'));
      expect(ran).toHaveLength(1);
      expect(duplicates).toHaveLength(2);
      const { rows } = await fixture.database.db.query<{ n: number }>('SELECT count(*)::int AS n FROM vigil.cache_windows');
      expect(rows[0]?.n).toBe((ran[0]?.windows as unknown[] | undefined)?.length);
    });
  });

  describe('partitionMaintenance', () => {
    const fixture = useHandlerFixture({ functionName: 'partitionMaintenance', remainingMs: 300_000 });
    it('maintains once for one slot', async () => {
      const handler = await fixture.handler<Handler>('partition-maintenance', {
        PARTITION_TABLES: JSON.stringify([{ table: 'api_performance_log', retention: 12 }]),
      });
      const { ran, duplicates } = await deliveredThrice(handler, fixture.context(), firing('partitionMaintenance.schedule.json'));
      expect(ran).toHaveLength(1);
      expect(duplicates).toHaveLength(2);
      expect(await fixture.delivered()).toEqual([]);
    });
  });

  describe('backup', () => {
    const bucket = 'vigil-test-slots';
    const fixture = useHandlerFixture({ functionName: 'backup', remainingMs: 300_000 });
    let s3: S3Client;
    beforeAll(async () => {
      s3 = localS3Client(fixture.aws);
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    });

    it('takes one backup for one slot: the duplicate is no failure, no page and exits 0', async () => {
      const handler = await fixture.handler<Handler>('backup', {
        AWS_ENDPOINT_URL_S3: fixture.aws.s3Endpoint,
        BACKUP_BUCKET: bucket,
      });
      const { ran, duplicates } = await deliveredThrice(handler, fixture.context(), firing('backup.schedule.json'));
      expect(ran).toHaveLength(1);
      expect(duplicates).toHaveLength(2);
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
      expect((listed.Contents ?? []).filter((object) => object.Key?.endsWith('.manifest.json'))).toHaveLength(1);
      expect(await fixture.delivered()).toEqual([]);
    });

    it('skips, without failing or paging, while another backup of the database holds the lock', async () => {
      const handler = await fixture.handler<Handler>('backup', {
        AWS_ENDPOINT_URL_S3: fixture.aws.s3Endpoint,
        BACKUP_BUCKET: bucket,
      });
      const before = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
      const other = new pg.Client({ connectionString: fixture.database.url });
      await other.connect();
      try {
        await other.query('BEGIN');
        await other.query("SELECT pg_advisory_xact_lock(hashtext('vigil'), hashtext('backup'))");
        const answer = (await handler({}, fixture.context())) as { backup: { outcome: string; skipped: string } };
        expect(answer.backup).toMatchObject({ outcome: 'skipped', skipped: expect.stringContaining('another backup') });
      } finally {
        await other.query('ROLLBACK');
        await other.end();
      }
      const after = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
      expect(after.KeyCount).toBe(before.KeyCount);
      expect(await fixture.delivered()).toEqual([]);
    });

    it('runs a failed slot again when it is retried, and keeps the attempts', async () => {
      const failing = await fixture.handler<Handler>('backup', {
        AWS_ENDPOINT_URL_S3: fixture.aws.s3Endpoint,
        BACKUP_BUCKET: 'vigil-test-no-such-bucket',
        VIGIL_ALERT_PUBLISH_ATTEMPTS: '1',
      });
      const event = firing('backup.schedule.json');
      await expect(failing(event, fixture.context())).rejects.toThrow();
      await expect(failing(event, fixture.context())).rejects.toThrow();
      const { rows } = await fixture.database.db.query<{ state: string; attempts: number }>(
        "SELECT state, attempts FROM vigil.scheduled_runs WHERE function_name = 'backup' AND slot = $1",
        [slotOf(event)],
      );
      expect(rows).toEqual([{ state: 'failed', attempts: 2 }]);
      await fixture.delivered();
    });
  });
});
