import catalogue from './labels.json' with { type: 'json' };

/*
 * One catalogue of the words people read for every signal and metric Vigil reports: email, SMS,
 * console and the dashboard (deploy/dashboard.cjs reads labels.json too) take their labels and
 * units from it, never a code name.
 */

export interface Label {
  /** What the reader sees: "Error rate". */
  label: string;
  /** The unit as printed after the value: "%", "ms", "per hour", "" for a count. */
  unit: string;
  /** The reading in words by its sign, where "label value unit" would mislead; {} is the value without sign. */
  negative?: string;
  positive?: string;
}

const all: Record<string, Label> = { ...catalogue.metrics, ...catalogue.signals };

/** The entry for a code name, when the catalogue has one. */
export function labelOf(name: string): Label | undefined {
  return Object.hasOwn(all, name) ? all[name] : undefined;
}

/** "3.04 %", "1840 ms", "2 per hour", "12": the value with its unit as people write it. */
function withUnit(value: string, unit: string): string {
  return unit === '' ? value : `${value} ${unit}`;
}

const operatorWords = { '>': 'over', '>=': 'at or over', '<': 'under', '<=': 'at or under' } as const;

export type Operator = keyof typeof operatorWords;

/** "over 2 %": a threshold in words. */
function thresholdWords(operator: Operator, value: string, unit: string): string {
  return `${operatorWords[operator]} ${withUnit(value, unit)}`;
}

/**
 * "Error rate 3.04 % (over 2 %)", "New page 99.45 % faster than the baseline": a reading in the
 * catalogue's words; a name the catalogue lacks is printed as given.
 */
export function describeReading(
  name: string,
  value: string,
  raw: number,
  unit: string,
  threshold?: { operator: Operator; value: string },
): string {
  const entry = labelOf(name);
  const shownUnit = entry?.unit ?? unit;
  const template = raw < 0 ? entry?.negative : entry?.positive;
  const reading = template
    ? template.replace('{}', value.replace(/^-/, ''))
    : `${entry?.label ?? name} ${withUnit(value, shownUnit)}`;
  return threshold ? `${reading} (${thresholdWords(threshold.operator, threshold.value, shownUnit)})` : reading;
}

/** The label alone ("Error rate"), or the name as given. */
export const labelText = (name: string) => labelOf(name)?.label ?? name;
