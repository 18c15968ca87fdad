import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Alerter, createAlerter } from '../../../lib/alerts';
import { snsMaxMessageBytes } from '../../../lib/alerts/render';
import { smsSize } from '../../../lib/alerts/sms';
import { createSnsClient } from '../../../lib/aws/sns';
import { loadConfig } from '../../../lib/config';
import { createDatabase } from '../../../lib/db';
import { type LocalAws, startLocalAws } from '../../../local/local-aws';
import type { DeliveredAlert } from '../../../local/outbox';
import { freePort } from '../../../local/ports';
import { sampleAlert } from '../../support/alerts';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { drainDelivered } from '../../support/sns-readback';

const topic = 'vigil-test-alerts';

function expectWithinSnsLimits(message: DeliveredAlert) {
  expect(message.subject).toMatch(/^[\x20-\x7e]{1,99}$/);
  expect(smsSize(message.sms).fitsOneSegment).toBe(true);
  expect(Buffer.byteLength(message.message) + Buffer.byteLength(message.subject ?? '')).toBeLessThanOrEqual(snsMaxMessageBytes);
  expect(message.attributes['AWS.SNS.SMS.SMSType']).toBe('Transactional');
  expect(JSON.parse(message.message)).toEqual({
    default: expect.any(String),
    email: expect.any(String),
    sms: expect.any(String),
  });
}

describe('alerter', () => {
  let sns: LocalAws;
  let database: TestDatabase;
  let clock: Date;
  let alerter: Alerter;

  const alertsConfig = (endpoint: string) =>
    loadConfig(['alerts', 'aws'], {
      VIGIL_ALERT_TOPIC_ARN: sns.topics[topic]?.topicArn,
      VIGIL_ALERT_REPEAT_INTERVAL_MINUTES: '240',
      VIGIL_ALERT_FLAP_WINDOW_MINUTES: '30',
      VIGIL_RUNBOOK_URL: 'https://example.org/vigil/docs/runbooks.md',
      AWS_ENDPOINT_URL_SNS: endpoint,
    });

  const delivered = async () =>
    (await drainDelivered(sns, topic)).map((message) => {
      expectWithinSnsLimits(message);
      return `${message.attributes.notification} ${message.attributes.alert_key}`;
    });

  const advance = (minutes: number) => {
    clock = new Date(clock.getTime() + minutes * 60_000);
  };

  beforeAll(async () => {
    sns = await startLocalAws({ topics: [topic] });
    database = await createTestDatabase();
  });

  afterAll(async () => {
    await sns?.stop();
    await database?.drop();
  });

  beforeEach(async () => {
    clock = new Date('2026-11-22T03:00:00Z');
    await database.db.query('TRUNCATE vigil.alert_state, vigil.alert_notifications');
    await drainDelivered(sns, topic);
    const config = alertsConfig(sns.endpoint);
    alerter = createAlerter({
      sns: createSnsClient(config.aws, config.alerts.publishAttempts),
      db: database.db,
      config: config.alerts,
      stage: 'test',
      now: () => clock,
    });
  });

  it('delivers exactly what an operator should get through firing, repeats, flaps and resolutions of several keys', async () => {
    const probe = (severity: 'major' | 'critical' = 'major') =>
      sampleAlert({ key: 'probe:dashboard:p95', severity, observedAt: clock });
    const cache = () =>
      sampleAlert({ key: 'cache:hit-ratio', severity: 'minor', title: 'Cache hit ratio under target', observedAt: clock });
    const backup = () => sampleAlert({ key: 'backup:failed', severity: 'critical', title: 'Backup failed', observedAt: clock });

    await alerter.raise(probe());
    await alerter.raise(cache());
    expect(await delivered()).toEqual(['firing probe:dashboard:p95', 'firing cache:hit-ratio']);

    advance(5);
    expect((await alerter.raise(probe())).action).toBe('suppressed');
    await alerter.resolve('cache:hit-ratio');
    expect(await delivered()).toEqual(['resolved cache:hit-ratio']);

    advance(10);
    // Firing again after a resolve is a change of state: sent at once, said as such.
    expect(await alerter.raise(cache())).toMatchObject({ action: 'sent', kind: 'refiring' });
    await alerter.raise(backup());
    expect(await delivered()).toEqual(['refiring cache:hit-ratio', 'firing backup:failed']);

    advance(20);
    await alerter.raise(probe('critical'));
    expect(await delivered()).toEqual(['escalation probe:dashboard:p95']);

    advance(240);
    await alerter.raise(probe('critical'));
    await alerter.raise(cache());
    await alerter.raise(backup());
    expect(await delivered()).toEqual(['repeat probe:dashboard:p95', 'repeat cache:hit-ratio', 'repeat backup:failed']);

    advance(5);
    for (const key of ['probe:dashboard:p95', 'cache:hit-ratio', 'backup:failed']) await alerter.resolve(key);
    await alerter.resolve('never:fired');
    expect(await delivered()).toEqual(['resolved probe:dashboard:p95', 'resolved cache:hit-ratio', 'resolved backup:failed']);

    advance(60);
    await alerter.raise(probe());
    expect(await delivered()).toEqual(['firing probe:dashboard:p95']);

    const { rows } = await database.db.query<{ kind: string; n: number }>(
      'SELECT kind, count(*)::int AS n FROM vigil.alert_notifications GROUP BY kind ORDER BY kind',
    );
    expect(rows).toEqual([
      { kind: 'escalation', n: 1 },
      { kind: 'firing', n: 4 },
      { kind: 'refiring', n: 1 },
      { kind: 'repeat', n: 3 },
      { kind: 'resolved', n: 4 },
    ]);
  });

  it('sends the alerts one invocation raises for one cause as one message per severity, each key keeping its state', async () => {
    const cause = 'partitions:public.api_performance_log';
    const failed = sampleAlert({ key: `${cause}:failed`, cause, severity: 'major', title: 'Partition maintenance failed' });
    const rows = sampleAlert({ key: `${cause}:default-rows`, cause, severity: 'major', title: 'Rows in the default partition' });
    const ahead = sampleAlert({ key: `${cause}:ahead`, cause, severity: 'critical', title: 'No partition ahead' });
    const other = sampleAlert({ key: 'probe:dashboard:budget', title: 'Load time over budget' });
    const outcomes = await alerter.apply([
      { action: 'raise', alert: failed },
      { action: 'raise', alert: ahead },
      { action: 'raise', alert: rows },
      { action: 'raise', alert: other },
    ]);
    expect(outcomes.map((outcome) => `${outcome.action} ${outcome.key}`)).toEqual([
      `sent ${cause}:failed`,
      `sent ${cause}:ahead`,
      `sent ${cause}:default-rows`,
      'sent probe:dashboard:budget',
    ]);
    const messages = await drainDelivered(sns, topic);
    // One critical, one major for the cause (the first raised leads), and the other cause alone.
    expect(messages.map((message) => `${message.attributes.severity} ${message.attributes.alert_key}`).sort()).toEqual([
      `critical ${cause}:ahead`,
      `major ${cause}:failed`,
      'major probe:dashboard:budget',
    ]);
    const major = messages.find((message) => message.attributes.alert_key === `${cause}:failed`);
    expect(major?.subject).toContain('Partition maintenance failed (and 1 more of the same cause)');
    expect(major?.email).toContain(`Rows in the default partition [${cause}:default-rows]`);
    // Each key has its own state: the next run repeats none of them, and one resolves alone.
    advance(5);
    expect(
      (
        await alerter.apply([
          { action: 'raise', alert: failed },
          { action: 'raise', alert: rows },
        ])
      ).map((o) => o.action),
    ).toEqual(['suppressed', 'suppressed']);
    expect(await alerter.resolve(`${cause}:default-rows`)).toMatchObject({ action: 'sent', kind: 'resolved' });
    expect(await delivered()).toEqual([`resolved ${cause}:default-rows`]);
    // The cause clears: its other keys resolve as it raised them, one message per severity.
    advance(5);
    expect(
      (
        await alerter.apply([
          { action: 'resolve', key: `${cause}:failed` },
          { action: 'resolve', key: `${cause}:ahead` },
          { action: 'resolve', key: 'probe:dashboard:budget' },
        ])
      ).map((outcome) => `${outcome.action} ${outcome.key}`),
    ).toEqual([`sent ${cause}:failed`, `sent ${cause}:ahead`, 'sent probe:dashboard:budget']);
    expect((await delivered()).sort()).toEqual([
      `resolved ${cause}:ahead`,
      `resolved ${cause}:failed`,
      'resolved probe:dashboard:budget',
    ]);
  });

  it('resolves the keys one cause raised together as one message per severity', async () => {
    const cause = 'probe:down:status';
    const down = ['a', 'b', 'c'].map((name) =>
      sampleAlert({ key: `probe:${name}:down`, cause, severity: 'critical', title: `Endpoint ${name} is down` }),
    );
    await alerter.apply(down.map((alert) => ({ action: 'raise' as const, alert })));
    expect(await delivered()).toEqual(['firing probe:a:down']);
    advance(10);
    const outcomes = await alerter.apply(down.map((alert) => ({ action: 'resolve' as const, key: alert.key })));
    expect(outcomes.map((outcome) => outcome.action)).toEqual(['sent', 'sent', 'sent']);
    const messages = await drainDelivered(sns, topic);
    expect(messages).toHaveLength(1);
    expect(messages[0]?.subject).toContain('RESOLVED: Endpoint a is down (and 2 more of the same cause)');
    // Each key has its own state: none reads as firing any more.
    expect((await alerter.apply([{ action: 'resolve', key: 'probe:b:down' }]))[0]).toMatchObject({ action: 'none' });
  });

  it('holds back the probe budget alerts of the pages a firing rollback names, lists them in its email, and sends them once it clears', async () => {
    const budget = sampleAlert({ key: 'probe:dashboard-new:budget', title: 'Load time of page dashboard-new over budget' });
    expect(await alerter.raise(budget)).toMatchObject({ action: 'sent', kind: 'firing' });
    advance(1);
    const rollback = sampleAlert({
      key: 'rollback:decision',
      severity: 'critical',
      title: 'Immediate rollback advised',
      inhibits: ['probe:dashboard-new:budget', 'probe:dashboard-old:budget'],
    });
    expect(await alerter.raise(rollback)).toMatchObject({ action: 'sent', kind: 'firing' });
    const [firingBudget, firingRollback] = await drainDelivered(sns, topic);
    expect(firingBudget?.attributes.alert_key).toBe('probe:dashboard-new:budget');
    expect(firingRollback?.email).toContain('Held back while this fires');
    expect(firingRollback?.email).toContain(
      'Load time of page dashboard-new over budget [probe:dashboard-new:budget]: firing since 2026-11-22T03:20Z',
    );
    expect(firingRollback?.email).toContain('[probe:dashboard-old:budget]: not firing now');
    // While the rollback fires, the old page's budget alert and the new page's repeat are held back.
    advance(300);
    expect(await alerter.raise(sampleAlert({ key: 'probe:dashboard-old:budget' }))).toMatchObject({
      action: 'suppressed',
      reason: 'held back while rollback:decision fires',
    });
    expect(await alerter.raise(budget)).toMatchObject({
      action: 'suppressed',
      reason: 'held back while rollback:decision fires',
    });
    expect(await delivered()).toEqual([]);
    // Once the rollback clears, a budget alert still true is sent, as new for the page never told.
    expect(await alerter.resolve('rollback:decision')).toMatchObject({ action: 'sent', kind: 'resolved' });
    advance(5);
    expect(await alerter.raise(sampleAlert({ key: 'probe:dashboard-old:budget' }))).toMatchObject({
      action: 'sent',
      kind: 'firing',
    });
    expect(await delivered()).toEqual(['resolved rollback:decision', 'firing probe:dashboard-old:budget']);
  });

  it('renders the texts an operator reads for a critical alert and its resolution', async () => {
    await alerter.raise(sampleAlert({ severity: 'critical', observedAt: clock }));
    advance(25);
    await alerter.resolve('probe:dashboard:p95');
    const [firing, resolved] = await drainDelivered(sns, topic);
    expect(firing?.subject).toBe('Vigil test CRITICAL: Dashboard load p95 over budget');
    expect(firing?.sms).toBe(
      'VIGIL> CRITICAL test: Dashboard load p95 over budget, since 03:00Z [probe:dashboard:p95] p95 load time 1840 ms (over 1000 ms); error rate no data',
    );
    expect(firing?.email).toContain('Runbook: https://example.org/vigil/docs/runbooks.md#probe-dashboard-p95');
    expect(resolved?.subject).toBe('Vigil test RESOLVED: Dashboard load p95 over budget: back to OK');
    expect(resolved?.sms).toBe(
      'VIGIL> RESOLVED test: Dashboard load p95 over budget: back to OK at 03:25Z after 25 min [probe:dashboard:p95]',
    );
    expect(resolved?.attributes.severity).toBe('critical');
  });

  it('still sends, undeduplicated and saying so, when the state store is down', async () => {
    const config = alertsConfig(sns.endpoint);
    const port = await freePort();
    const unreachable = createDatabase(
      loadConfig(['database'], { DATABASE_URL: `postgres://vigil:x@127.0.0.1:${port}/none`, DATABASE_CONNECT_TIMEOUT_MS: '500' })
        .database,
    );
    const withoutStore = createAlerter({
      sns: createSnsClient(config.aws, config.alerts.publishAttempts),
      db: unreachable,
      config: config.alerts,
      stage: 'test',
      now: () => clock,
    });
    const first = await withoutStore.raise(sampleAlert());
    const second = await withoutStore.raise(sampleAlert());
    expect(first).toMatchObject({ action: 'sent', deduplicated: false, reason: 'state store unavailable' });
    expect(second).toMatchObject({ action: 'sent', deduplicated: false });
    expect(await withoutStore.resolve('probe:dashboard:p95')).toMatchObject({
      action: 'none',
      reason: 'state store unavailable',
    });
    const messages = await drainDelivered(sns, topic);
    expect(messages).toHaveLength(2);
    expect(messages[0]?.email).toContain('sent without deduplication');
    await unreachable.end();
  });

  it('records a message sent while the state store was down as soon as it answers, so the resolve is sent', async () => {
    const config = alertsConfig(sns.endpoint);
    let storeDown = true;
    // The test database, refusing every transaction while "down" (as a frozen or unreachable store does).
    const flaky = {
      ...database.db,
      withTransaction: ((work, options) =>
        storeDown
          ? Promise.reject(new Error('timeout exceeded when trying to connect'))
          : database.db.withTransaction(work, options)) as typeof database.db.withTransaction,
      query: ((text: string, values?: unknown[]) =>
        storeDown
          ? Promise.reject(new Error('timeout exceeded when trying to connect'))
          : database.db.query(text, values)) as typeof database.db.query,
    };
    const duringOutage = createAlerter({
      sns: createSnsClient(config.aws, config.alerts.publishAttempts),
      db: flaky,
      config: config.alerts,
      stage: 'test',
      now: () => clock,
    });
    expect(await duringOutage.raise(sampleAlert())).toMatchObject({ action: 'sent', reason: 'state store unavailable' });
    expect(await delivered()).toEqual(['firing probe:dashboard:p95']);
    storeDown = false;
    advance(10);
    // The next decision of this alerter records it first: the key reads as firing, and clears with a RESOLVED.
    expect(await duringOutage.resolve('probe:dashboard:p95')).toMatchObject({ action: 'sent', kind: 'resolved' });
    expect(await delivered()).toEqual(['resolved probe:dashboard:p95']);
    const { rows } = await database.db.query<{ kind: string }>(
      "SELECT kind FROM vigil.alert_notifications WHERE alert_key = 'probe:dashboard:p95' ORDER BY sent_at",
    );
    expect(rows.map((row) => row.kind)).toEqual(['firing', 'resolved']);
  });

  it('pages once for one cause while the state store is down, and resolves it once when it is back', async () => {
    const config = alertsConfig(sns.endpoint);
    let storeDown = true;
    const down = () => Promise.reject(new Error('timeout exceeded when trying to connect'));
    const flaky = {
      ...database.db,
      withTransaction: ((work, options) =>
        storeDown ? down() : database.db.withTransaction(work, options)) as typeof database.db.withTransaction,
      query: ((text: string, values?: unknown[]) =>
        storeDown ? down() : database.db.query(text, values)) as typeof database.db.query,
    };
    const duringFreeze = createAlerter({
      sns: createSnsClient(config.aws, config.alerts.publishAttempts),
      db: flaky,
      config: config.alerts,
      stage: 'test',
      now: () => clock,
    });
    const cause = 'probe:down:timeout';
    const endpoints = ['a', 'b', 'c'].map((name) =>
      sampleAlert({ key: `probe:${name}:down`, cause, severity: 'critical', title: `Endpoint ${name} is down` }),
    );
    const raised = await duringFreeze.apply(endpoints.map((alert) => ({ action: 'raise' as const, alert })));
    expect(raised.map((outcome) => outcome.action)).toEqual(['sent', 'sent', 'sent']);
    const paged = await drainDelivered(sns, topic);
    expect(paged).toHaveLength(1);
    expect(paged[0]?.subject).toContain('Endpoint a is down (and 2 more of the same cause)');
    expect(paged[0]?.email).toContain('sent without deduplication');
    storeDown = false;
    advance(10);
    await duringFreeze.apply(endpoints.map((alert) => ({ action: 'resolve' as const, key: alert.key })));
    const cleared = await drainDelivered(sns, topic);
    expect(cleared.map((message) => message.attributes.notification)).toEqual(['resolved']);
  });

  describe('when SNS throttles', () => {
    let proxy: Server;
    let refusals: number;

    beforeAll(async () => {
      // In front of the emulator: answers Publish with SNS's throttling error while refusals last.
      const upstream = new URL(sns.endpoint);
      proxy = createServer((incoming, outgoing) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () => {
          const body = Buffer.concat(chunks);
          const isPublish =
            /Action=Publish\b/.test(body.toString()) || String(incoming.headers['x-amz-target'] ?? '').endsWith('.Publish');
          if (isPublish && refusals > 0) {
            refusals -= 1;
            outgoing.writeHead(400, { 'content-type': 'text/xml' });
            outgoing.end(
              '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r-1</RequestId></ErrorResponse>',
            );
            return;
          }
          const forward = httpRequest(
            {
              host: upstream.hostname,
              port: upstream.port,
              path: incoming.url,
              method: incoming.method,
              headers: incoming.headers,
            },
            (response) => {
              outgoing.writeHead(response.statusCode ?? 502, response.headers);
              response.pipe(outgoing);
            },
          );
          forward.end(body);
        });
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    });

    afterAll(async () => {
      await new Promise((resolve) => proxy.close(resolve));
    });

    const throughProxy = () => {
      const config = alertsConfig(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`);
      return createAlerter({
        sns: createSnsClient(config.aws, 3),
        db: database.db,
        config: { ...config.alerts, publishAttempts: 3 },
        stage: 'test',
        now: () => clock,
      });
    };

    it('retries and delivers once', async () => {
      refusals = 2;
      expect(await throughProxy().raise(sampleAlert())).toMatchObject({ action: 'sent', kind: 'firing' });
      expect(refusals).toBe(0);
      expect(await delivered()).toEqual(['firing probe:dashboard:p95']);
    });

    it('fails the caller after the last attempt and keeps no state, so the next run sends it', async () => {
      refusals = 3;
      await expect(throughProxy().raise(sampleAlert())).rejects.toMatchObject({ name: 'AlertDeliveryError', attempts: 3 });
      const { rowCount } = await database.db.query('SELECT 1 FROM vigil.alert_state');
      expect(rowCount).toBe(0);
      expect(await delivered()).toEqual([]);
      expect(await alerter.raise(sampleAlert())).toMatchObject({ action: 'sent', kind: 'firing' });
      expect(await delivered()).toEqual(['firing probe:dashboard:p95']);
    });
  });
});
