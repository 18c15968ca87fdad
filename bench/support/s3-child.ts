import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

/* An S3-compatible server (fauxqs) in its own process, so its memory is not the backup's. */
async function main() {
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
  process.stdout.write(`${endpoint}\n`);
}

main();
