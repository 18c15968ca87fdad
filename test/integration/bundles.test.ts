import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFunctions, type FunctionBundle } from '../../bench/support/bundle';
import { projectRoot } from '../../local/paths';

/** What `serverless package` bundles per function (bench `bundles` measures size and load time). */
describe('function bundles', () => {
  let outdir: string;
  let bundles: FunctionBundle[];

  beforeAll(async () => {
    outdir = await mkdtemp(join(tmpdir(), 'vigil-bundles-'));
    bundles = await bundleFunctions(outdir);
  }, 120_000);

  afterAll(async () => {
    await rm(outdir, { recursive: true, force: true });
  });

  it('holds no aws-sdk v2 and no dev dependency', async () => {
    const { devDependencies } = JSON.parse(await readFile(join(projectRoot, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    expect(bundles).toHaveLength(7);
    for (const bundle of bundles) {
      expect(bundle.packages, bundle.name).not.toContain('aws-sdk');
      expect(
        bundle.packages.filter((name) => name in devDependencies),
        bundle.name,
      ).toEqual([]);
    }
  });

  // `import { z } from 'zod'` is zod's whole namespace as one value, which esbuild cannot shake: it
  // kept every locale's messages, a third of each bundle (about 360 KiB), parsed at every cold start.
  // `import * as z from 'zod'` lets it keep only what is used, English messages included.
  it("holds zod's English messages and no other locale", () => {
    for (const bundle of bundles) {
      const locales = bundle.inputs.filter((input) => /node_modules\/zod\/.*\/locales\/[^/]+\.js$/.test(input));
      expect(locales, bundle.name).toEqual([expect.stringMatching(/\/locales\/en\.js$/)]);
    }
  });

  it('holds only the AWS SDK clients each function uses', () => {
    const clients = Object.fromEntries(
      bundles.map((bundle) => [bundle.name, bundle.packages.filter((name) => name.startsWith('@aws-sdk/client-'))]),
    );
    const base = ['@aws-sdk/client-secrets-manager', '@aws-sdk/client-sns'];
    expect(clients).toEqual({
      alerts: base,
      probe: [...base, '@aws-sdk/client-ssm'],
      cacheEfficiency: [...base, '@aws-sdk/client-ssm'],
      rollbackDecision: ['@aws-sdk/client-cloudwatch', ...base, '@aws-sdk/client-ssm'],
      partitionMaintenance: ['@aws-sdk/client-s3', ...base, '@aws-sdk/client-ssm'],
      backup: ['@aws-sdk/client-s3', ...base, '@aws-sdk/client-ssm'],
      report: ['@aws-sdk/client-s3', ...base, '@aws-sdk/client-ssm'],
    });
  });
});
