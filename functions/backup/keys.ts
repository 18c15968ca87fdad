/*
 * Where a backup lives. Keys sort by time under one prefix per database, so a listing of
 * `<prefix>/<database>/` is the history in order:
 *   <prefix>/<database>/<yyyy>/<mm>/<dd>/<database>-<ISO timestamp>.dump
 * and beside each dump its manifest, written last, whose presence marks the backup complete.
 */

const dumpSuffix = '.dump';
const manifestSuffix = '.manifest.json';

/** A database name as a key segment: anything outside a safe set becomes `_` (the manifest keeps the real name). */
export function keySegment(database: string): string {
  return database.replace(/[^A-Za-z0-9_.-]/g, '_');
}

export function databasePrefix(prefix: string, database: string): string {
  return `${prefix}/${keySegment(database)}/`;
}

export function dumpKey(prefix: string, database: string, startedAt: Date): string {
  const iso = startedAt.toISOString();
  const segment = keySegment(database);
  return `${prefix}/${segment}/${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}/${segment}-${iso}${dumpSuffix}`;
}

export function manifestKeyOf(dump: string): string {
  if (!dump.endsWith(dumpSuffix)) throw new Error(`${dump} is not a backup key (it must end in ${dumpSuffix})`);
  return `${dump.slice(0, -dumpSuffix.length)}${manifestSuffix}`;
}

export function dumpKeyOf(manifest: string): string {
  return `${manifest.slice(0, -manifestSuffix.length)}${dumpSuffix}`;
}

export const isDumpKey = (key: string) => key.endsWith(dumpSuffix);
export const isManifestKey = (key: string) => key.endsWith(manifestSuffix);
