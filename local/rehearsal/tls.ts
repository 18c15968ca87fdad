import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface TestCertificates {
  /** The CA made for this run: what the functions must be given to trust the server. */
  caFile: string;
  certFile: string;
  keyFile: string;
}

const openssl = (args: string[]) => promisify(execFile)('openssl', args, { timeout: 30_000 });

/**
 * A certificate authority made for one run (it signs one server certificate, then its key is
 * thrown away with the directory) and a server certificate for `hostname` and 127.0.0.1, so
 * verify-full (the hostname checked against the certificate) can pass only with that CA.
 */
export async function createTestCertificates(directory: string, hostname: string): Promise<TestCertificates> {
  await mkdir(directory, { recursive: true });
  const file = (name: string) => join(directory, name);
  await openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=Vigil rehearsal CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await openssl([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    file('server.key'),
    '-out',
    file('server.csr'),
    '-subj',
    `/CN=${hostname}`,
  ]);
  await writeFile(
    file('server.ext'),
    `subjectAltName=DNS:${hostname},IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`,
  );
  await openssl([
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-out',
    file('server.pem'),
    '-days',
    '2',
    '-extfile',
    file('server.ext'),
  ]);
  return { caFile: file('ca.pem'), certFile: file('server.pem'), keyFile: file('server.key') };
}
