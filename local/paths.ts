import { join } from 'node:path';

/** The repository's root: every tool, bench and test finds the project's files from here. */
export const projectRoot = join(import.meta.dirname, '..');
