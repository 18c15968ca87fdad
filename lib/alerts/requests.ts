import { errorSummary, logger } from '../logger';
import { groupByCause } from './group';
import { raiseGroup, resolveGroup } from './group-transitions';
import { AlertDeliveryError } from './publish';
import { firingCausesOf } from './store';
import { type AlerterParts, resolveOne } from './transitions';
import type { Alert, AlertOutcome, AlertRequest, RequestOutcome } from './types';

export interface ApplyOptions {
  /** Report a unit SNS would not take as `failed` and go on with the others (the caller fails at the end). */
  continueOnDeliveryFailure?: boolean;
}

/** The causes of the keys about to resolve that are firing: keys resolved together, or undefined without the store. */
async function firingCauses({ db, sender, unrecorded }: AlerterParts, keys: string[]): Promise<Map<string, string> | undefined> {
  if (keys.length === 0) return new Map();
  if (!db) return undefined;
  try {
    await unrecorded.recordAll(db, sender.policy);
    return await firingCausesOf(db, keys);
  } catch {
    // Each resolve says why it cannot tell.
    return undefined;
  }
}

/** The resolves that go out together, by the cause their key fired for (each its own without the store). */
function resolvesByCause(
  resolves: Array<{ key: string; at?: Date }>,
  causes: Map<string, string> | undefined,
): Array<Array<{ key: string; at?: Date }>> {
  const groups = new Map<string, Array<{ key: string; at?: Date }>>();
  for (const request of resolves) {
    const cause = causes === undefined ? request.key : causes.get(request.key);
    if (cause === undefined) continue;
    groups.set(cause, [...(groups.get(cause) ?? []), { key: request.key, ...(request.at ? { at: request.at } : {}) }]);
  }
  return [...groups.values()];
}

/**
 * The one way alerts leave a check: its requests in order. Raises of one cause go out as one message
 * per severity where the first of them stands; resolves of keys that fired for one cause go out
 * the same way; holds are reported. With `continueOnDeliveryFailure`, a unit SNS would not take
 * is reported as failed and the others still go (the caller fails its invocation at the end).
 */
export async function applyRequests(
  parts: AlerterParts,
  requests: AlertRequest[],
  options: ApplyOptions = {},
): Promise<RequestOutcome[]> {
  const raiseGroups = [
    ...groupByCause(requests.flatMap((request) => (request.action === 'raise' ? [request.alert] : []))).values(),
  ];
  const resolves = requests.flatMap((request) => (request.action === 'resolve' ? [request] : []));
  const causes = await firingCauses(
    parts,
    resolves.map((request) => request.key),
  );
  const resolveGroups = resolvesByCause(resolves, causes);
  const outcomes: RequestOutcome[] = [];
  const deliver = async (keys: string[], unit: () => Promise<AlertOutcome[]>) => {
    try {
      outcomes.push(...(await unit()));
    } catch (error) {
      if (!(error instanceof AlertDeliveryError) || !options.continueOnDeliveryFailure) throw error;
      logger.error('alerts could not be delivered', { alertKeys: keys, error: errorSummary(error) });
      outcomes.push(...keys.map((key) => ({ key, action: 'failed' as const, reason: error.message })));
    }
  };
  for (const request of requests) {
    if (request.action === 'hold') outcomes.push(request);
    else if (request.action === 'resolve') {
      if (causes !== undefined && !causes.has(request.key)) {
        outcomes.push({ key: request.key, action: 'none', deduplicated: true, reason: 'not firing' });
        continue;
      }
      // A cause's resolves go out where its first resolve stands.
      const group = resolveGroups.find((members) => members[0]?.key === request.key);
      if (!group) continue;
      await deliver(
        group.map((member) => member.key),
        () =>
          group.length > 1 ? resolveGroup(parts, group) : resolveOne(parts, request.key, request.at).then((outcome) => [outcome]),
      );
    } else {
      // A cause's raises go out where its first raise stands.
      const group: Alert[] | undefined = raiseGroups.find((members) => members[0] === request.alert);
      if (group)
        await deliver(
          group.map((alert) => alert.key),
          () => raiseGroup(parts, group),
        );
    }
  }
  return outcomes;
}
