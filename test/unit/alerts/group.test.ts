import { describe, expect, it } from 'vitest';
import { causeOf, groupedAlert } from '../../../lib/alerts/group';
import { sampleAlert } from '../../support/alerts';

describe('group', () => {
  it('groups by cause, else each alert alone', () => {
    expect(causeOf(sampleAlert({ cause: 'partitions:t' }))).toBe('partitions:t');
    expect(causeOf(sampleAlert())).toBe('probe:dashboard:p95');
  });

  it('leads with the first alert and lists the others with their keys, measurements, commands and details', () => {
    const lead = sampleAlert({
      key: 'a',
      title: 'First',
      commands: ['npm run decide'],
      details: 'root',
      since: new Date('2026-11-22T03:10:00Z'),
    });
    const next = sampleAlert({ key: 'b', title: 'Second', summary: 'because', commands: ['npm run decide'], details: 'second' });
    const grouped = groupedAlert([lead, next]);
    expect(grouped).toMatchObject({ key: 'a', title: 'First (and 1 more of the same cause)', commands: ['npm run decide'] });
    expect(grouped.summary).toContain('  - Second [b]: because');
    expect(grouped.measurements).toHaveLength(lead.measurements.length + next.measurements.length);
    expect(grouped.details).toBe('[a]\nroot\n\n[b]\nsecond');
    // The group began when its earliest member did.
    expect(grouped.since).toEqual(new Date('2026-11-22T03:10:00Z'));
    expect(groupedAlert([lead])).toBe(lead);
  });
});
