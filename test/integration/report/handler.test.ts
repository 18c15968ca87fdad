import { CreateBucketCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { localCredentials } from '../../../local/local-aws';
import { sampleEvent as event, firing, useHandlerFixture } from '../../support/handler-fixture';
import { recordWeek } from '../../support/recorded-week';
import { localS3Client } from '../../support/s3';

const bucket = 'vigil-test-report-handler';

describe('report', () => {
  const fixture = useHandlerFixture({ functionName: 'report', remainingMs: 25_000 });
  const context = fixture.context();
  let handler: (event: unknown, context: Context) => Promise<Record<string, unknown>>;

  beforeAll(async () => {
    const s3 = localS3Client({ region: fixture.aws.region, endpoint: fixture.aws.s3Endpoint });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const client = new pg.Client({ connectionString: fixture.database.url });
    await client.connect();
    try {
      await recordWeek(client, { errorPercent: 2 }, { s3, name: bucket });
    } finally {
      await client.end();
      s3.destroy();
    }
    handler = await fixture.handler('report', {
      REPORT_BUCKET: bucket,
      AWS_ENDPOINT_URL_S3: fixture.aws.s3Endpoint,
      AWS_ACCESS_KEY_ID: localCredentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: localCredentials.secretAccessKey,
      AWS_REGION: fixture.aws.region,
      VIGIL_API_TOKEN: 'vigil-local-token',
    });
  }, 120_000);

  it('sends the weekly digest once per slot: info, readable on a phone and in a mailbox, naming what was missed, with the link to its page', async () => {
    const weekly = firing('report.weekly.json');
    const answer = (await handler(weekly, context)) as {
      digest: { action: string; kind: string };
      missed: string[];
      page: { url: string; location: string };
    };
    expect(answer.digest).toMatchObject({ action: 'sent', kind: 'digest' });
    expect(answer.missed).toEqual(expect.arrayContaining(['error-rate', 'decisions']));
    // fixture.delivered() holds every message to the alert corpus' checks: no code names, plain words.
    const [digest, ...more] = await fixture.delivered();
    expect(more).toEqual([]);
    expect(digest?.attributes).toMatchObject({ severity: 'info', notification: 'digest', alert_key: 'report:week' });
    expect(digest?.subject).toMatch(/^Vigil local REPORT: Rollout scorecard, weekly: missed .*error rate.*rollback decisions/);
    expect(digest?.email).toMatch(/^MISSED {9}Error rate at most 0\.1 % of requests$/m);
    expect(digest?.email).toMatch(
      /^ {15}2\.0 % \(n = \d[\d,]* requests\); bounds 1\.\d % to 2\.\d % \(95 % each side\); target at most 0\.1 %$/m,
    );
    expect(digest?.email).toContain('Recommendations (only where a rule of the source documents fires):');
    // The link is signed, not redacted, and it opens the page the bucket holds.
    const link = /^Charts: (\S+)$/m.exec(digest?.email ?? '')?.[1] as string;
    expect(link).toMatch(/X-Amz-Signature=[0-9a-f]{64}/);
    expect(link).toBe(answer.page.url);
    const page = await fetch(link);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<svg');
    // A second delivery of the slot sends nothing again.
    const again = (await handler(weekly, context)) as { duplicateOf?: string };
    expect(again.duplicateOf).toBeDefined();
    expect(await fixture.delivered()).toEqual([]);
    const { rows } = await fixture.database.db.query<{ trigger: string; kind: string }>(
      `SELECT r.trigger, n.kind FROM vigil.reports r, vigil.alert_notifications n WHERE n.alert_key = 'report:week'`,
    );
    expect(rows).toEqual([{ trigger: 'schedule', kind: 'digest' }]);
  });

  it('answers GET /report with the scorecard and its page, and refuses a caller without a token or a period it does not know', async () => {
    const response = (await handler(event('report.http-get.json'), context)) as { statusCode: number; body: string };
    expect(response.statusCode).toBe(200);
    const answer = JSON.parse(response.body) as {
      period: { kind: string };
      rows: Array<{ id: string }>;
      page: { location: string };
    };
    expect(answer.period.kind).toBe('week');
    expect(answer.rows.map((row) => row.id)).toContain('error-rate');
    expect(answer.page.location).toMatch(new RegExp(`^s3://${bucket}/reports/week/`));
    const s3 = localS3Client({ region: fixture.aws.region, endpoint: fixture.aws.s3Endpoint });
    const stored = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: answer.page.location.replace(`s3://${bucket}/`, '') }),
    );
    expect(await stored.Body?.transformToString()).toMatch(/^<!doctype html>/);
    s3.destroy();
    const sample = event('report.http-get.json');
    const anonymous = (await handler({ ...sample, headers: {} }, context)) as { statusCode: number };
    expect(anonymous.statusCode).toBe(401);
    const badPeriod = (await handler({ ...sample, queryStringParameters: { period: 'month' } }, context)) as {
      statusCode: number;
      body: string;
    };
    expect(badPeriod.statusCode).toBe(400);
    expect(badPeriod.body).toContain('period must be day or week');
    // Asked over HTTP: stored, no digest sent.
    expect(await fixture.delivered()).toEqual([]);
  });
});
