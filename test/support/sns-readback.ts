// The local stack's read-back of the alert topic, shared with `npm run demo`; what the tests read
// of it is held to what on-call must be able to read (test/support/alert-corpus.ts).

import type { LocalAws } from '../../local/local-aws';
import { drainDelivered as drainOutbox } from '../../local/outbox';
import { expectReadable } from './alert-corpus';

export { drainQueue } from '../../local/outbox';

export const drainDelivered = async (sns: LocalAws, topic: string, smsDisplayName?: string) =>
  expectReadable(await drainOutbox(sns, topic, smsDisplayName));
