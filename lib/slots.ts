import type { MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import type { Database } from './db';
import { deadlineFrom } from './deadline';
import { errorSummary, logger } from './logger';
import { redactDeep } from './redact';

/*
 * EventBridge and Lambda's asynchronous invocation deliver at least once and retry a failed run.
 * A scheduled run belongs to its slot, the event's scheduled `time`: the first delivery claims the
 * slot and runs; a second delivery of a slot that is running or done runs nothing and answers
 * "duplicate of <slot>" with what the first answered (exit 0, no alert, no streak or window moved).
 * A failed slot, or one whose first run passed its deadline without an answer (killed), is run
 * again by the next delivery: that is what a retry is for. Events that are not scheduled (HTTP,
 * alarms) and manual invocations (`detail.manual`, set by `npm run invoke`) take no slot.
 */

export interface ScheduledEvent {
  source: 'aws.events';
  'detail-type': 'Scheduled Event';
  id?: string;
  time: string;
  detail?: { manual?: unknown };
}

/** A scheduled delivery of EventBridge (or of serverless-offline, which sends the same shape). */
export function isScheduledEvent(event: unknown): event is ScheduledEvent {
  if (typeof event !== 'object' || event === null) return false;
  const candidate = event as Partial<ScheduledEvent>;
  return (
    candidate.source === 'aws.events' &&
    candidate['detail-type'] === 'Scheduled Event' &&
    typeof candidate.time === 'string' &&
    Number.isFinite(Date.parse(candidate.time))
  );
}

/** An invocation a person asked for (`npm run invoke`): it runs, takes no slot, and says so. */
export function isManualEvent(event: unknown): boolean {
  return isScheduledEvent(event) && event.detail?.manual === true;
}

export interface DuplicateAnswer {
  duplicateOf: string;
  state: 'running' | 'done';
  /** What the first delivery answered, when it has finished. */
  outcome: unknown;
}

/** The answers stored are bounded: an outcome is kept whole up to this size, else summarised. */
const maxStoredOutcomeBytes = 64 * 1024;

function storable(outcome: unknown): string {
  const json = JSON.stringify(redactDeep(outcome ?? null));
  return Buffer.byteLength(json) <= maxStoredOutcomeBytes
    ? json
    : JSON.stringify({ note: `answer of ${Buffer.byteLength(json)} bytes not kept; see the function's log` });
}

type Claim = { run: true } | { run: false; answer: DuplicateAnswer };

/** Claims the slot for this delivery, or says whose it is. `deadline`: when this run is dead for sure. */
export async function claimSlot(db: Database, functionName: string, event: ScheduledEvent, deadline: Date): Promise<Claim> {
  const slot = new Date(event.time);
  const { rows } = await db.query<{ claimed: boolean }>(
    `INSERT INTO vigil.scheduled_runs AS run (function_name, slot, event_id, state, deadline_at)
     VALUES ($1, $2, $3, 'running', $4)
     ON CONFLICT (function_name, slot) DO UPDATE
       SET state = 'running', attempts = run.attempts + 1, event_id = EXCLUDED.event_id, started_at = now(),
           deadline_at = EXCLUDED.deadline_at, finished_at = NULL, outcome = NULL
       WHERE run.state = 'failed' OR (run.state = 'running' AND run.deadline_at < now())
     RETURNING true AS claimed`,
    [functionName, slot, event.id ?? null, deadline],
  );
  if (rows.length > 0) return { run: true };
  const { rows: first } = await db.query<{ state: 'running' | 'done'; outcome: unknown }>(
    `UPDATE vigil.scheduled_runs SET duplicates = duplicates + 1 WHERE function_name = $1 AND slot = $2
     RETURNING state, outcome`,
    [functionName, slot],
  );
  const state = first[0]?.state ?? 'running';
  return { run: false, answer: { duplicateOf: slot.toISOString(), state, outcome: first[0]?.outcome ?? null } };
}

async function settleSlot(db: Database, functionName: string, event: ScheduledEvent, state: 'done' | 'failed', outcome: unknown) {
  await db.query(
    `UPDATE vigil.scheduled_runs SET state = $3, finished_at = now(), outcome = $4::jsonb
     WHERE function_name = $1 AND slot = $2 AND state = 'running'`,
    [functionName, new Date(event.time), state, storable(outcome)],
  );
}

/**
 * The slot guard of every scheduled handler, as middy middleware: claims the slot before the
 * handler, answers a duplicate without running it, records the answer or the failure after.
 * `margin`: how long after the Lambda deadline a run is surely dead (its answer no longer comes).
 */
export function scheduledSlot(
  functionName: string,
  db: Database,
  options: { marginMs?: number } = {},
): MiddlewareObj<unknown, unknown, Error, Context> {
  const marginMs = options.marginMs ?? 60_000;
  return {
    before: async (request) => {
      const { event, context } = request;
      if (!isScheduledEvent(event) || isManualEvent(event)) return;
      const deadline = new Date(deadlineFrom(context, -marginMs));
      const claim = await claimSlot(db, functionName, event, deadline);
      if (claim.run) return;
      logger.info(`duplicate delivery of slot ${claim.answer.duplicateOf} (${claim.answer.state}): not run again`, {
        slot: claim.answer.duplicateOf,
        eventId: event.id,
      });
      // Returning a value ends the middy chain here: the handler does not run.
      return claim.answer;
    },
    after: async (request) => {
      if (!isScheduledEvent(request.event) || isManualEvent(request.event)) return;
      if ((request.response as Partial<DuplicateAnswer> | undefined)?.duplicateOf !== undefined) return;
      await settleSlot(db, functionName, request.event, 'done', request.response);
    },
    onError: async (request) => {
      if (!isScheduledEvent(request.event) || isManualEvent(request.event)) return;
      try {
        await settleSlot(db, functionName, request.event, 'failed', { error: errorSummary(request.error) });
      } catch (error) {
        // The slot stays 'running' until its deadline; the original failure is what the caller sees.
        logger.error('could not record the failed run of its slot', { error: errorSummary(error) });
      }
    },
  };
}
