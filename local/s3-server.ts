import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// s3rver ships no types; the surface used here is small.
// @ts-expect-error no declaration file
import S3rver from 's3rver';

export interface RunningS3 {
  /** http://127.0.0.1:<port>, for AWS_ENDPOINT_URL_S3. */
  endpoint: string;
  directory: string;
  stop(): Promise<void>;
}

/** An S3-compatible server on 127.0.0.1 (s3rver), with the given buckets created. */
export async function startS3Server(options: { buckets: string[]; directory?: string; port?: number }): Promise<RunningS3> {
  const temporary = options.directory ? undefined : await mkdtemp(join(tmpdir(), 'vigil-s3-'));
  const directory = options.directory ?? (temporary as string);
  await mkdir(directory, { recursive: true });
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port ?? 0,
    silent: true,
    directory,
    vhostBuckets: false,
    configureBuckets: options.buckets.map((name) => ({ name, configs: [] })),
  });
  const address: { port: number } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    directory,
    async stop() {
      await server.close();
      if (temporary) await rm(temporary, { recursive: true, force: true });
    },
  };
}
