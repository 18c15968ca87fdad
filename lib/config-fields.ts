import * as z from 'zod';
import { errorMessage } from './errors';

/*
 * Field types of configuration variables that more than one section reads. A function's own
 * section (functions/<name>/config.ts) builds on these; the loader is lib/config.ts.
 */

/** An empty variable is an unset one: `FOO=` in a .env file must not read as a value. */
export const unsetIfEmpty = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);

export const optionalString = z.preprocess(unsetIfEmpty, z.string().optional());

export const optionalUrl = (protocols: RegExp) =>
  z.preprocess(unsetIfEmpty, z.url({ protocol: protocols, error: 'must be a URL' }).optional());

export const integer = (defaultValue: number, min: number, max: number) =>
  z.preprocess(
    unsetIfEmpty,
    z.coerce
      .number({ error: 'must be a number' })
      .int('must be a whole number')
      .min(min, `must be at least ${min}`)
      .max(max, `must be at most ${max}`)
      .default(defaultValue),
  );

/** A number with a fraction allowed (a width in percentage points, say), within bounds. */
export const decimal = (defaultValue: number, min: number, max: number) =>
  z.preprocess(
    unsetIfEmpty,
    z.coerce
      .number({ error: 'must be a number' })
      .min(min, `must be at least ${min}`)
      .max(max, `must be at most ${max}`)
      .default(defaultValue),
  );

/** An SSM parameter name (`/vigil/prod/...`). */
export const ssmParameterName = (example: string) =>
  z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .regex(/^\/?[A-Za-z0-9_.\-/]+$/, `must be an SSM parameter name such as ${example}`)
      .optional(),
  );

/** "Alert in M of the last N": M must not exceed N (checked even when another variable is bad). */
export function checkMOfN(context: z.RefinementCtx, raw: Record<string, unknown>, breaches: string, windows: string) {
  const m = raw[breaches];
  const n = raw[windows];
  if (typeof m === 'number' && typeof n === 'number' && m > n) {
    context.addIssue({ code: 'custom', path: [breaches], message: `must not exceed ${windows} (M of N)` });
  }
}

/** A plain (unquoted) table name, optionally schema-qualified. */
export const qualifiedName = (example: string) =>
  z
    .string()
    .regex(
      /^([A-Za-z_][A-Za-z0-9_$]{0,62}\.)?[A-Za-z_][A-Za-z0-9_$]{0,62}$/,
      `must be a table name such as ${example} (optionally schema-qualified)`,
    );

export const s3Bucket = z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name');
export const s3Prefix = z.string().regex(/^[A-Za-z0-9!_.*'()/-]{1,200}$/, 'must be an S3 key prefix such as backups');

/**
 * One zod issue as `field: message`: the field's path with the unrecognised keys it names, or
 * "(the whole value)" when the issue is about the value itself. Every configuration message that
 * names a field inside a value is written here.
 */
export function issueProblem(issue: z.core.$ZodIssue): string {
  const keys = 'keys' in issue && Array.isArray(issue.keys) ? [issue.keys.join(',')] : [];
  const field = [...issue.path.map(String), ...keys].join('.') || '(the whole value)';
  return `${field}: ${issue.message}`;
}

/** Each problem of a zod issue list as `field: message`. */
export const issueProblems = (issues: z.core.$ZodIssue[]) => issues.map(issueProblem);

/**
 * The fields a zod issue list names, without the messages or values: for input whose values must
 * not be echoed (a secret's) or whose shape is all that matters (an event's).
 */
export const issueFields = (issues: z.core.$ZodIssue[]) =>
  issues.map((issue) => issue.path.map(String).join('.') || '(the whole value)').join(', ');

/** What a variable whose text does not parse as JSON is told, with the parser's own words. */
export const notJsonMessage = (error: unknown) => `is not JSON (${errorMessage(error)})`;

/**
 * The JSON value of a variable's text, inside a zod transform: the parsed value, or `z.NEVER` after
 * adding the issue that says the text is not JSON (at `path`, when the schema is an object's).
 */
export function parseJsonIn(raw: string, context: z.core.$RefinementCtx, path?: PropertyKey[]): unknown {
  try {
    return JSON.parse(raw);
  } catch (error) {
    context.addIssue({ code: 'custom', message: notJsonMessage(error), ...(path ? { path } : {}) });
    return z.NEVER;
  }
}

/** An entry of a JSON array variable that did not parse: its name (when it has one), position and every problem. */
export interface InvalidEntry {
  name?: string;
  index: number;
  problems: string[];
}

/**
 * A JSON array variable of entries: the entries that parse, and each one that does not with its
 * name (or position) and every problem. Only text that is not a JSON array is an issue here.
 */
export function jsonEntries<T extends z.ZodType>(item: T, what: string, nameKey: string) {
  return z.preprocess(unsetIfEmpty, z.string().optional()).transform((raw, context) => {
    const entries = { valid: [] as z.output<T>[], invalid: [] as InvalidEntry[] };
    if (raw === undefined) return entries;
    const json = parseJsonIn(raw, context);
    if (json === z.NEVER) return z.NEVER;
    if (!Array.isArray(json)) {
      context.addIssue({ code: 'custom', message: `must be a JSON array of ${what}s` });
      return z.NEVER;
    }
    json.forEach((entry, index) => {
      const result = item.safeParse(entry);
      const name = (entry as Record<string, unknown> | null)?.[nameKey];
      if (result.success) entries.valid.push(result.data);
      else
        entries.invalid.push({
          name: typeof name === 'string' && name.trim() ? name : undefined,
          index,
          problems: issueProblems(result.error.issues),
        });
    });
    return entries;
  });
}
