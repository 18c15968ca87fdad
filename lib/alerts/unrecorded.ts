import type { Database } from '../db';
import { errorSummary, logger } from '../logger';
import { type DedupPolicy, decideFiring } from './dedup';
import type { SentMessage } from './sender';
import { lockAlertState, recordNotification, saveAlertState } from './store';
import type { Alert } from './types';

/*
 * Messages sent while the state store could not record them (a raise decided without it, or one
 * whose state failed to save after sending). Each is recorded as soon as the store answers again,
 * before the alerter decides anything else, so the key reads as firing and its RESOLVED is sent.
 * Kept by the alerter, which a handler builds once per container: a container that ends first
 * takes them with it (the log line 'alert sent while the state store was unavailable' names each).
 */
export class UnrecordedMessages {
  readonly #byKey = new Map<string, { alert: Alert; sent: SentMessage }>();

  add(alert: Alert, sent: SentMessage): void {
    this.#byKey.set(alert.key, { alert, sent });
  }

  /** Records each message kept, in the order sent; stops at the first the store refuses. */
  async recordAll(db: Database, policy: DedupPolicy): Promise<void> {
    for (const [key, { alert, sent }] of [...this.#byKey]) {
      try {
        await db.withTransaction(async (client) => {
          const state = await lockAlertState(client, key);
          // It went out: the state says it was told, whatever deciding now would send.
          const { next } = decideFiring(state, alert, sent.sentAt, policy);
          await recordNotification(client, { key, kind: 'firing', severity: alert.severity, ...sent });
          await saveAlertState(client, next);
        });
      } catch (error) {
        logger.warn('the state store is still unavailable; alerts sent without it stay unrecorded', {
          alertKeys: [...this.#byKey.keys()],
          error: errorSummary(error),
        });
        return;
      }
      this.#byKey.delete(key);
      logger.info('alert sent while the state store was unavailable is now recorded', { alertKey: key });
    }
  }
}
