import type pg from 'pg';
import {
  type ChangeResult,
  ddl,
  finishRetirement,
  inLockBoundedTransaction,
  literal,
  type RetireOptions,
  recordStatement,
} from './execute';
import { type LedgerEntry, qualified, type TableState } from './introspect';

/*
 * What an interrupted run left, found and finished before a run plans anything new:
 * - a partition pending detach (an older version's DETACH ... CONCURRENTLY cut off in its second
 *   phase): FINALIZE, and the ledger told, in one transaction;
 * - a retirement the ledger holds (detached, or archived, not yet dropped): finished from there;
 * - a ledger row whose detach never took (the child is still attached): forgotten, the plan
 *   retires it again.
 * A Vigil-made child left standalone by an older version is taken by createChild() itself.
 */
export async function resumeInterrupted(
  client: pg.ClientBase,
  state: TableState,
  options: RetireOptions,
): Promise<ChangeResult[]> {
  const { parent } = state;
  const parentName = qualified(parent.schema, parent.name);
  const results: ChangeResult[] = [];
  const finalized: LedgerEntry[] = [];
  for (const child of parent.children.filter((candidate) => candidate.detachPending)) {
    const childName = qualified(child.schema, child.name);
    await inLockBoundedTransaction(client, options, 'finalize', child.name, [
      [
        ddl('finalize', parent, literal(child.name)),
        ...(child.managed ? [recordStatement(parent, childName, 'detached', options.mode)] : []),
      ],
    ]);
    await options.afterChange?.('finalize', child.name);
    results.push({ step: 'finalize', partition: child.name, ok: true, detail: 'DETACH ... FINALIZE of a detach left pending' });
    if (!child.managed) continue;
    finalized.push({ partition: childName, state: 'detached', name: child.name, attached: false });
  }
  // The ledger as read with the table; a row a FINALIZE above just moved on counts as detached.
  const rows = [...state.ledger.filter((row) => !finalized.some((done) => done.partition === row.partition)), ...finalized];
  for (const row of rows) {
    const forget = () =>
      client.query('DELETE FROM vigil.partition_ledger WHERE parent = $1 AND partition = $2', [parentName, row.partition]);
    if (!row.name) {
      await forget();
      results.push({ step: 'resume', partition: row.partition, ok: true, detail: 'already gone: nothing left to finish' });
      continue;
    }
    if (row.attached) {
      // The detach never happened: the child is the app's as before, and the plan decides again.
      await forget();
      continue;
    }
    results.push({ step: 'resume', partition: row.name, ok: true, detail: `finishing a retirement left ${row.state}` });
    results.push(
      ...(await finishRetirement(client, parent, row.name, options, row.state === 'archived' ? 'archived' : 'detached')),
    );
  }
  return results;
}
