import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { startChecksummingS3Proxy } from '../../local/checksumming-s3-proxy';
import { startS3Sink } from './s3-sink';

/*
 * An S3-compatible server (fauxqs) in its own process, so its memory is not the backup's, behind
 * the proxy: with "checksums" it checks and reports CRC32s as S3 does; with "plain" it reports none
 * (fauxqs would pass on the client's own, unchecked), so the backup takes its read-back fallback.
 */
async function main() {
  if (process.argv[3] === 'sink') {
    process.stdout.write(`${(await startS3Sink()).endpoint}\n`);
    return;
  }
  const { buildApp } = await import('fauxqs');
  const app = buildApp({ logger: false, host: '127.0.0.1' });
  const endpoint = (await app.listen({ port: 0, host: '127.0.0.1' })).replace('localhost', '127.0.0.1');
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  await s3.send(new CreateBucketCommand({ Bucket: process.argv[2] ?? 'bench-backups' }));
  const served = (await startChecksummingS3Proxy(endpoint, { confirmsNone: process.argv[3] !== 'checksums' })).endpoint;
  process.stdout.write(`${served}\n`);
}

main();
