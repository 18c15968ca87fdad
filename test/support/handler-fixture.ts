import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import pg from 'pg';
import { afterAll, beforeAll, vi } from 'vitest';
import { seedDemoData } from '../../local/demo-app/seed';
import { type DemoApp, type DemoAppOptions, startDemoApp } from '../../local/demo-app/server';
import { type LocalAws, startLocalAws } from '../../local/local-aws';
import { type DeliveredAlert, drainDelivered } from '../../local/outbox';
import { asScheduledNow } from '../../local/rehearsal/checks';
import { expectReadable } from './alert-corpus';
import { createTestDatabase, type TestDatabase } from './database';

const root = join(import.meta.dirname, '../..');

/** A sample event of `events/`, as the template's triggers deliver it. */
export const sampleEvent = (name: string) => JSON.parse(readFileSync(join(root, 'events', name), 'utf8'));

let firings = 0;
/** A sample scheduled event as the schedule fires it: every call a slot (scheduled time) of its own. */
export const firing = (name: string) => asScheduledNow(sampleEvent(name), new Date(Date.now() + 1000 * firings++));

export interface HandlerFixtureOptions {
  /** The function's name as Lambda gives it in the context, and the name of its alert topic. */
  functionName: string;
  /** What the context's getRemainingTimeInMillis() answers unless a test asks for another. */
  remainingMs: number;
  /** Seed demo users and start the demo app over the test database. */
  demo?: {
    users: number;
    transactionsPerUser: number;
    adoptionPercent: number;
    app?: Omit<DemoAppOptions, 'databaseUrl' | 'adminToken'>;
  };
  /** Variables every handler of this file gets, over the fixture's own (database, SNS endpoint, topic). */
  env?: Record<string, string>;
}

export interface HandlerFixture {
  /** SNS, SQS and S3 on 127.0.0.1 (local/local-aws.ts). */
  readonly aws: LocalAws;
  readonly topic: string;
  readonly database: TestDatabase;
  /** The demo app; only when `demo` was asked for. */
  readonly app: DemoApp;
  /** A Lambda context whose remaining time is `remainingMs`. */
  context(remainingMs?: number): Context;
  /**
   * The handler of `functions/<folder>/handler.ts` as a cold start builds it: a fresh module graph,
   * read with the fixture's environment and `env` over it (and nothing a previous test stubbed).
   */
  handler<H = (event: unknown, context: Context) => Promise<unknown>>(folder: string, env?: Record<string, string>): Promise<H>;
  /** Every message delivered to the topic since the last call, as the email and SMS read. */
  delivered(): Promise<DeliveredAlert[]>;
  /** The same, each as "<notification> <alert key>". */
  deliveredKeys(): Promise<string[]>;
}

/**
 * The set-up every handler test shares: an SNS emulator with the function's alert topic, a test
 * database of the file's own, optionally the demo app seeded over it, and the environment a
 * deployed function gets. Registers its own beforeAll and afterAll; call it inside describe().
 */
export function useHandlerFixture(options: HandlerFixtureOptions): HandlerFixture {
  const topic = `vigil-test-${options.functionName.toLowerCase()}`;
  let sns: LocalAws | undefined;
  let database: TestDatabase | undefined;
  let app: DemoApp | undefined;
  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the handler fixture has no ${what} (not started, or not asked for)`);
    return value;
  };

  beforeAll(async () => {
    [sns, database] = await Promise.all([
      startLocalAws({ topics: [topic] }),
      // The backup runs pg_dump: a server it can dump.
      createTestDatabase({}, { pgDump: options.functionName === 'backup' }),
    ]);
    if (options.demo) {
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        const { app: _app, ...seed } = options.demo;
        await seedDemoData(client, seed);
      } finally {
        await client.end();
      }
      app = await startDemoApp({ databaseUrl: database.url, adminToken: 'demo-admin', ...options.demo.app });
    }
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await app?.stop();
    await sns?.stop();
    await database?.drop();
  });

  const fixture: HandlerFixture = {
    get aws() {
      return started(sns, 'local AWS (SNS, SQS, S3)');
    },
    topic,
    get database() {
      return started(database, 'database');
    },
    get app() {
      return started(app, 'demo app');
    },
    context: (remainingMs = options.remainingMs) =>
      ({
        getRemainingTimeInMillis: () => remainingMs,
        functionName: `vigil-test-${options.functionName}`,
        awsRequestId: 'r-1',
      }) as unknown as Context,
    async handler<H>(folder: string, env: Record<string, string> = {}): Promise<H> {
      vi.resetModules();
      vi.unstubAllEnvs();
      const environment = {
        DATABASE_URL: fixture.database.url,
        AWS_ENDPOINT_URL_SNS: fixture.aws.endpoint,
        VIGIL_ALERT_TOPIC_ARN: fixture.aws.topics[topic]?.topicArn ?? '',
        VIGIL_STAGE: 'local',
        ...options.env,
        ...env,
      };
      for (const [name, value] of Object.entries(environment)) vi.stubEnv(name, value);
      return (await import(join(root, 'functions', folder, 'handler'))).handler as H;
    },
    // Every alert a handler test reads is held to what on-call must be able to read.
    delivered: async () => expectReadable(await drainDelivered(fixture.aws, topic)),
    deliveredKeys: async () =>
      (await fixture.delivered()).map((message) => `${message.attributes.notification} ${message.attributes.alert_key}`),
  };
  return fixture;
}
