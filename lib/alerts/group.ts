import type { Alert } from './types';

/*
 * Grouping, Alertmanager's group_by kept small: the alerts one invocation raises for one cause
 * (the same `cause`) go out as one message per severity. The first raised leads: its title, key
 * and time head the email and the SMS; the others follow in the email, each with its key.
 */

/** The key alerts are grouped by: their cause, else each alert alone. */
export const causeOf = (alert: Alert) => alert.cause ?? alert.key;

/** Alerts by cause, the causes in the order their first alert came, each group in its alerts' order. */
export function groupByCause(alerts: Alert[]): Map<string, Alert[]> {
  const groups = new Map<string, Alert[]>();
  for (const alert of alerts) groups.set(causeOf(alert), [...(groups.get(causeOf(alert)) ?? []), alert]);
  return groups;
}

/** One message for several alerts of one cause and one severity, the first leading. */
export function groupedAlert(members: Alert[]): Alert {
  const [lead, ...rest] = members;
  if (!lead) throw new Error('an alert group needs one alert at least');
  if (rest.length === 0) return lead;
  const unique = <T>(values: T[]) => [...new Set(values)];
  return {
    ...lead,
    title: `${lead.title} (and ${rest.length} more of the same cause)`,
    summary: [
      lead.summary ?? '',
      '',
      `Also from the same cause, in this one message (${rest.length}):`,
      ...rest.map((alert) => `  - ${alert.title} [${alert.key}]${alert.summary ? `: ${alert.summary}` : ''}`),
    ]
      .join('\n')
      .trim(),
    measurements: members.flatMap((alert) => alert.measurements),
    action: unique(members.map((alert) => alert.action)).join(' '),
    ...(members.some((alert) => alert.commands?.length)
      ? { commands: unique(members.flatMap((alert) => alert.commands ?? [])) }
      : {}),
    ...(members.some((alert) => alert.details)
      ? {
          details: members
            .filter((alert) => alert.details)
            .map((alert) => `[${alert.key}]\n${alert.details}`)
            .join('\n\n'),
        }
      : {}),
    since: new Date(Math.min(...members.map((alert) => (alert.since ?? alert.observedAt).getTime()))),
  };
}
