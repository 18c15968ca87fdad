import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type ConfigSection, sharedSections } from '../../lib/config';

const functionsDir = join(import.meta.dirname, '../../functions');

const isSection = (value: unknown): value is ConfigSection =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as ConfigSection).name === 'string' &&
  'variables' in value &&
  'schema' in value;

/**
 * Every configuration section there is: the shared ones, and each function's own, found in
 * `functions/<name>/config.ts` (so a function added later is covered without being listed here).
 */
export async function allSections(): Promise<ConfigSection[]> {
  const own: ConfigSection[] = [];
  for (const name of readdirSync(functionsDir).sort()) {
    const file = join(functionsDir, name, 'config.ts');
    if (!existsSync(file)) continue;
    own.push(...Object.values((await import(file)) as Record<string, unknown>).filter(isSection));
  }
  return [...Object.values(sharedSections), ...own];
}
