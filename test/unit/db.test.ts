import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config';
import { sslOptions, trustedCaFile, trustedCaPem } from '../../lib/db';
import type { ConfigError } from '../../lib/errors';
import { scratchFolders } from '../support/scratch';

const certificatesIn = (pem: string) =>
  (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((text) => new X509Certificate(text));

describe('db', () => {
  const scratch = scratchFolders('vigil-ca-');

  it("trusts the Amazon RDS roots of every region, and RDS Proxy's Amazon roots, when no CA file is given", () => {
    const subjects = certificatesIn(trustedCaPem({ sslCaFile: undefined })).map((certificate) => certificate.subject);
    expect(subjects).toContainEqual(expect.stringContaining('CN=Amazon RDS eu-west-1 Root CA RSA2048 G1'));
    expect(subjects).toContainEqual(expect.stringContaining('CN=Amazon RDS us-east-1 Root CA ECC384 G1'));
    expect(subjects).toContainEqual(expect.stringContaining('CN=Amazon Root CA 1'));
  });

  it('trusts only the given CA file when one is set, for node-pg and for libpq alike', () => {
    const directory = scratch();
    const file = join(directory, 'ca.pem');
    const bundle = trustedCaPem({ sslCaFile: undefined });
    const one = bundle.slice(0, bundle.indexOf('-----END CERTIFICATE-----') + 25);
    writeFileSync(file, one);
    const config = loadConfig(['database'], {
      DATABASE_URL: 'postgres://db/app',
      DATABASE_SSL_MODE: 'verify-full',
      DATABASE_SSL_CA_FILE: file,
    }).database;
    expect(sslOptions(config)).toEqual({ rejectUnauthorized: true, ca: one });
    expect(trustedCaFile(config)).toBe(file);
  });

  it('writes the shipped bundle once into the temporary directory for libpq', () => {
    const directory = scratch();
    const file = trustedCaFile({ sslCaFile: undefined }, directory);
    expect(file).toBe(join(directory, 'vigil-rds-ca-bundle.pem'));
    expect(readFileSync(file, 'utf8')).toBe(trustedCaPem({ sslCaFile: undefined }));
  });

  it('refuses at cold start a CA file that cannot be read or holds no certificate', () => {
    const directory = scratch();
    writeFileSync(join(directory, 'key.pem'), '-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----\n');
    const problems = (file: string) => {
      try {
        loadConfig(['database'], {
          DATABASE_URL: 'postgres://db/app',
          DATABASE_SSL_MODE: 'verify-full',
          DATABASE_SSL_CA_FILE: file,
        });
        return [];
      } catch (error) {
        return (error as ConfigError).problems.map((problem) => `${problem.variable}: ${problem.message}`);
      }
    };
    expect(problems(join(directory, 'missing.pem'))).toEqual(['DATABASE_SSL_CA_FILE: cannot be read (ENOENT)']);
    expect(problems(join(directory, 'key.pem'))).toEqual(['DATABASE_SSL_CA_FILE: holds no PEM certificate']);
  });
});
