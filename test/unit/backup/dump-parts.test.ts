import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { partSizeFor, serverSideEncryption } from '../../../functions/backup/dump-upload';
import { dumpKey, dumpKeyOf, keySegment, manifestKeyOf } from '../../../functions/backup/keys';
import { libpqEnvironment, toolEnvironment, toolMajorVersion } from '../../../functions/backup/pg-tools';
import { loadConfig } from '../../../lib/config';
import { trustedCaPem } from '../../../lib/db';

const MiB = 1024 * 1024;

describe('backup keys, parts and tools', () => {
  it('sorts keys by time under one prefix per database', () => {
    const key = dumpKey('backups', 'portfolio', new Date('2026-11-22T02:00:01.250Z'));
    expect(key).toBe('backups/portfolio/2026/11/22/portfolio-2026-11-22T02:00:01.250Z.dump');
    expect(manifestKeyOf(key)).toBe('backups/portfolio/2026/11/22/portfolio-2026-11-22T02:00:01.250Z.manifest.json');
    expect(dumpKeyOf(manifestKeyOf(key))).toBe(key);
    expect(keySegment('weird/name db')).toBe('weird_name_db');
    expect(() => manifestKeyOf('backups/x.sql')).toThrow(/not a backup key/);
  });

  it('sizes parts so a dump of 1.5x the database stays under 10,000 parts, at least 8 MiB each', () => {
    expect(partSizeFor(0)).toBe(8 * MiB);
    expect(partSizeFor(1024 * MiB)).toBe(8 * MiB);
    for (const databaseBytes of [100 * 1024 * MiB, 1024 * 1024 * MiB, 3 * 1024 * 1024 * MiB]) {
      const partBytes = partSizeFor(databaseBytes);
      expect(partBytes % MiB).toBe(0);
      expect(Math.ceil((databaseBytes * 1.5) / partBytes)).toBeLessThanOrEqual(10_000);
    }
    expect(partSizeFor(100 * 1024 * 1024 * MiB)).toBe(5 * 1024 * MiB);
  });

  it('encrypts with the configured KMS key, else with SSE-S3', () => {
    expect(serverSideEncryption('alias/vigil-backups')).toEqual({
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: 'alias/vigil-backups',
    });
    expect(serverSideEncryption(undefined)).toEqual({ ServerSideEncryption: 'AES256' });
  });

  it('reads the major version pg_dump prints', () => {
    expect(toolMajorVersion('pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)')).toBe(15);
    expect(toolMajorVersion('pg_dump (PostgreSQL) 17beta1')).toBe(17);
    expect(toolMajorVersion('pg_dump (PostgreSQL) 9.6.24')).toBeCloseTo(9.6);
    expect(toolMajorVersion('something else')).toBeUndefined();
  });

  it('hands pg_dump the connection through libpq variables, the password never in argv and no AWS credentials', () => {
    const database = loadConfig(['database'], { DATABASE_URL: 'postgres://x', DATABASE_SSL_MODE: 'require' }).database;
    const env = libpqEnvironment({ connectionString: 'postgres://app%40ops:s3cr%2Ft@db.internal:6432/portfolio' }, database, {
      PATH: '/usr/bin',
      AWS_SECRET_ACCESS_KEY: 'never',
      AWS_SESSION_TOKEN: 'never',
    });
    expect(env).toEqual({
      PATH: '/usr/bin',
      LANG: 'C.UTF-8',
      PGSSLMODE: 'require',
      PGCONNECT_TIMEOUT: '5',
      PGAPPNAME: 'vigil-backup',
      PGHOST: 'db.internal',
      PGPORT: '6432',
      PGUSER: 'app@ops',
      PGPASSWORD: 's3cr/t',
      PGDATABASE: 'portfolio',
    });
  });

  it("keeps the library path a layer's tools need, and gives verify-full the roots node-pg trusts", () => {
    const inherited = {
      PATH: '/var/lang/bin:/usr/bin:/opt/bin',
      LD_LIBRARY_PATH: '/var/lang/lib:/lib64:/usr/lib64:/opt/lib',
      AWS_ACCESS_KEY_ID: 'never',
    };
    expect(toolEnvironment(inherited)).toEqual({
      PATH: '/var/lang/bin:/usr/bin:/opt/bin',
      LD_LIBRARY_PATH: '/var/lang/lib:/lib64:/usr/lib64:/opt/lib',
      LANG: 'C.UTF-8',
    });
    const database = loadConfig(['database'], { DATABASE_URL: 'postgres://x', DATABASE_SSL_MODE: 'verify-full' }).database;
    const env = libpqEnvironment({ connectionString: 'postgres://vigil:pw@db.internal/portfolio' }, database, inherited);
    expect(env.LD_LIBRARY_PATH).toBe(inherited.LD_LIBRARY_PATH);
    expect(env.PGSSLMODE).toBe('verify-full');
    // Without DATABASE_SSL_CA_FILE: the RDS bundle, written where libpq can read it.
    expect(readFileSync(env.PGSSLROOTCERT as string, 'utf8')).toBe(trustedCaPem(database));
    expect(env.AWS_ACCESS_KEY_ID).toBeUndefined();
  });
});
