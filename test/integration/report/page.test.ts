import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { type Browser, launch } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportConfig } from '../../../functions/report/config';
import { type MadeReport, makeReport } from '../../../functions/report/run';
import { loadConfig } from '../../../lib/config';
import { defaultThresholds } from '../../../lib/thresholds';
import { type LocalAws, startLocalAws } from '../../../local/local-aws';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { recordWeek, weekEnd } from '../../support/recorded-week';
import { localS3Client } from '../../support/s3';

/** Debian's Chromium (apt-get install chromium), as CI installs it; CHROMIUM_PATH names another. */
const chromium = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path): path is string =>
  Boolean(path && existsSync(path)),
);

/** The page of a recorded week, in a real headless browser: what a person opening the digest's link sees. */
describe.skipIf(!chromium)('the report page in Chromium', () => {
  let sns: LocalAws;
  let database: TestDatabase;
  let made: MadeReport;
  let browser: Browser;
  let directory: string;

  beforeAll(async () => {
    [sns, database] = await Promise.all([startLocalAws({ topics: [], buckets: ['vigil-test-page'] }), createTestDatabase()]);
    const s3 = localS3Client(sns);
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      await recordWeek(client, {}, { s3, name: 'vigil-test-page' });
    } finally {
      await client.end();
    }
    const config = loadConfig([reportConfig], { REPORT_BUCKET: 'vigil-test-page' }).report;
    made = await makeReport({ db: database.db, s3, config, thresholds: defaultThresholds, stage: 'test' }, 'week', weekEnd, {
      trigger: 'cli',
      requestedBy: 'test',
      publish: false,
    });
    s3.destroy();
    directory = await mkdtemp(join(tmpdir(), 'vigil-report-page-'));
    // As root (CI), Chromium's sandbox needs namespaces it is not given; the page is our own file.
    browser = await launch({ executablePath: chromium, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all([database?.drop(), sns?.stop(), directory ? rm(directory, { recursive: true, force: true }) : undefined]);
  });

  it('draws each chart with its axes and every data point, fetches nothing and logs no error; the screenshot shows it', async () => {
    const file = join(directory, 'report.html');
    await writeFile(file, made.html);
    const page = await browser.newPage();
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warn') problems.push(`${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${(error as Error).message}`));
    page.on('request', (request) => requests.push(request.url()));
    await page.setViewport({ width: 1280, height: 900 });
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });

    const charts = await page.$$eval('svg[data-chart]', (svgs) =>
      svgs.map((svg) => {
        const box = svg.getBoundingClientRect();
        const axis = (name: string) => {
          const group = svg.querySelector(`[data-axis="${name}"]`);
          return { line: Boolean(group?.querySelector('line')), ticks: group?.querySelectorAll('text').length ?? 0 };
        };
        const series = [...svg.querySelectorAll('.point')].reduce<Record<string, number>>((counts, point) => {
          const name = point.getAttribute('data-series') ?? '';
          counts[name] = (counts[name] ?? 0) + 1;
          return counts;
        }, {});
        const drawn = [...svg.querySelectorAll('.point')].every((point) => {
          const rect = point.getBoundingClientRect();
          return rect.width > 0 && rect.height > 0;
        });
        return {
          id: svg.getAttribute('data-chart'),
          width: box.width,
          height: box.height,
          x: axis('x'),
          y: axis('y'),
          series,
          drawn,
          thresholds: [...svg.querySelectorAll('[data-threshold]')].map((threshold) => threshold.getAttribute('data-threshold')),
        };
      }),
    );
    expect(charts.map((chart) => chart.id)).toEqual(['load-time', 'error-rate', 'cache-hit-ratio', 'backups', 'timeline']);
    for (const chart of charts) {
      expect(chart.width, chart.id ?? '').toBeGreaterThan(300);
      expect(chart.height, chart.id ?? '').toBeGreaterThan(100);
      expect(chart.x.line && chart.x.ticks >= 3, `${chart.id}: x axis`).toBe(true);
      expect(chart.y.line && chart.y.ticks >= 2, `${chart.id}: y axis`).toBe(true);
      expect(chart.drawn, `${chart.id}: every point drawn with a size`).toBe(true);
    }
    const byId = Object.fromEntries(charts.map((chart) => [chart.id, chart]));
    // A point for each measured day and page (the week touches 8 UTC days), each window, each backup.
    const days = made.report.charts.loadByDay.length;
    expect(days).toBe(8);
    expect(byId['load-time']?.series).toEqual({ 'old page, median': days, 'new page, median': days });
    expect(byId['error-rate']?.series).toEqual({ 'error rate': 8, 'upper bound': 8 });
    expect(byId['error-rate']?.thresholds).toEqual(['target 0.1 %', 'monitor 1 %', 'staged 2 %', 'immediate 5 %']);
    expect(byId['cache-hit-ratio']?.series).toEqual({ 'public.user_performance': 7 * 96 });
    expect(byId['backups']?.series).toEqual({ 'size (MB)': 7, 'newest age (h)': 7 * 24 + 1 });
    expect(byId['timeline']?.series).toEqual({ 'rollback / major': 1, 'monitor / minor': 1, resolved: 1 });
    // The scorecard table: a row per promise, the missed ones marked.
    expect(await page.$$eval('table.scorecard tbody tr', (rows) => rows.length)).toBe(made.report.rows.length);

    const screenshot = process.env.VIGIL_REPORT_SCREENSHOT ?? join(directory, 'report.png');
    await page.screenshot({ path: screenshot as `${string}.png`, fullPage: true });
    expect((await stat(screenshot)).size).toBeGreaterThan(50_000);
    expect(problems).toEqual([]);
    expect(requests.filter((url) => !url.startsWith('file:') && !url.startsWith('data:'))).toEqual([]);
  }, 60_000);
});
