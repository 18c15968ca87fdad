/**
 * What GFS 7/4/12 keeps of one backup a day for the 400 days ending Sunday 2026-11-22, written by
 * hand: the 7 newest days, the Sundays closing the 3 ISO weeks before (the 4th is this week), and
 * the last day of each of the 11 months before November.
 */
export const gfsDaysOf400DaysEndingSunday20261122 = [
  '2025-12-31',
  '2026-01-31',
  '2026-02-28',
  '2026-03-31',
  '2026-04-30',
  '2026-05-31',
  '2026-06-30',
  '2026-07-31',
  '2026-08-31',
  '2026-09-30',
  '2026-10-31',
  '2026-11-01',
  '2026-11-08',
  '2026-11-15',
  '2026-11-16',
  '2026-11-17',
  '2026-11-18',
  '2026-11-19',
  '2026-11-20',
  '2026-11-21',
  '2026-11-22',
];
