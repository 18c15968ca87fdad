// The local stack's read-back of the alert topic, shared with `npm run demo`.
export { drainDelivered, drainQueue } from '../../local/outbox';
