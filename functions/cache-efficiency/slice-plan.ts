import type pg from 'pg';
import { quoteQualifiedName } from '../../lib/db';
import type { CacheConfig } from './config';
import { firstSliceFraction, type KeySlice, keyVersion, randomKeyVersions, randomPivot } from './sample';

export interface SlicePlan {
  /** The slice this run's snapshot holds; null: the whole table. */
  slice: KeySlice | null;
  /** The table's pivot, kept while the table is measured whole, so its slice stays the same when it comes back. */
  pivot: string | null;
  /** The planner's estimate of the table's entries (pg_class.reltuples); null before the table was first analyzed. */
  tableEntries: number | null;
  /** Why a table large enough to sample is measured whole. */
  wholeBecause?: string;
  /** What of the keys' randomness could not be checked without a scan. */
  notes: string[];
}

/** The first btree index over `column` (leading, not partial): what a range of it is read through. */
async function leadingBtree(client: pg.ClientBase, relation: string, column: string): Promise<string | undefined> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT i.indexrelid::regclass::text AS name
     FROM pg_index i
     JOIN pg_class ic ON ic.oid = i.indexrelid
     JOIN pg_am am ON am.oid = ic.relam
     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
     WHERE i.indrelid = to_regclass($1) AND am.amname = 'btree' AND a.attname = $2 AND i.indpred IS NULL AND i.indisvalid
     ORDER BY i.indisprimary DESC, i.indisunique DESC LIMIT 1`,
    [relation, column],
  );
  return rows[0]?.name;
}

/**
 * Whether this run measures the table whole (small tables, exactly as before; tables whose keys
 * cannot give a fair slice) or on its slice, and which. Catalog reads and at most one read of 100
 * index entries: nothing here scans the table.
 */
export async function planSlice(
  client: pg.ClientBase,
  config: Pick<CacheConfig, 'table' | 'sampleFromEntries'>,
  state: { pivot: string | null; nextFraction: number | null; refusal: string | null },
): Promise<SlicePlan> {
  const relation = quoteQualifiedName(config.table);
  const { rows: sized } = await client.query<{ entries: number | null; key_type: string | null }>(
    `SELECT c.reltuples::float8 AS entries,
            (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
              WHERE a.attrelid = c.oid AND a.attname = 'user_id' AND NOT a.attisdropped) AS key_type
     FROM pg_class c WHERE c.oid = to_regclass($1)`,
    [relation],
  );
  const reltuples = sized[0]?.entries ?? null;
  // reltuples is -1 until the table is first vacuumed or analyzed: its size is not known yet.
  const tableEntries = reltuples !== null && reltuples >= 0 ? Math.round(reltuples) : null;
  const whole = (wholeBecause?: string): SlicePlan => ({
    slice: null,
    pivot: state.pivot,
    tableEntries,
    notes: [],
    ...(wholeBecause ? { wholeBecause } : {}),
  });
  if (tableEntries === null || tableEntries < config.sampleFromEntries) return whole();
  const size = `about ${tableEntries.toLocaleString('en')} entries (CACHE_SAMPLE_FROM_ENTRIES ${config.sampleFromEntries.toLocaleString('en')})`;
  if (state.refusal) return whole(`${state.refusal}; measured whole though it has ${size}`);
  const keyType = sized[0]?.key_type ?? null;
  if (keyType !== 'uuid') {
    return whole(
      `user_id is ${keyType ?? 'missing'}, not a random UUID: a slice of its range would be a sample by age, so the table is measured whole though it has ${size}`,
    );
  }
  if (!(await leadingBtree(client, relation, 'user_id'))) {
    return whole(
      `no btree index leads with user_id: its slice could only be read by a scan, so the table is measured whole though it has ${size}`,
    );
  }
  const notes: string[] = [];
  // Keys handed out by time (UUID versions 1, 6, 7) sit together in the key range: a slice could
  // miss all new users. The entries calculated last show what keys the app hands out now.
  if (await leadingBtree(client, relation, 'calculated_at')) {
    const randomVersions = randomKeyVersions.join(', ');
    const { rows } = await client.query<{ checked: string; not_random: string; versions: string | null }>(
      `SELECT count(*) AS checked, count(*) FILTER (WHERE version NOT IN (${randomVersions})) AS not_random,
              string_agg(DISTINCT version::text, ', ') FILTER (WHERE version NOT IN (${randomVersions})) AS versions
       FROM (SELECT ${keyVersion('user_id')} AS version FROM ${relation}
             ORDER BY calculated_at DESC LIMIT 100) newest`,
    );
    const notRandom = Number(rows[0]?.not_random ?? 0);
    if (notRandom > 0) {
      return whole(
        `${notRandom} of the ${rows[0]?.checked} entries calculated last have keys that are not random UUIDs (version ${rows[0]?.versions}): a slice of the key range would be a sample by age, so the table is measured whole though it has ${size}`,
      );
    }
  } else {
    notes.push("the keys of the newest entries were not checked (no index leads with calculated_at); the slice's own keys are");
  }
  const pivot = state.pivot ?? randomPivot();
  const fraction = state.nextFraction ?? firstSliceFraction(tableEntries);
  if (fraction >= 1) return { ...whole(), pivot, notes };
  return { slice: { pivot, fraction }, pivot, tableEntries, notes };
}
