import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alertKeyPrefixes } from '../../lib/alerts/keys';

/*
 * The rooms of docs/architecture.md: a function imports lib/ and its own folder; lib/ imports
 * neither a function nor the tooling above it, and holds only what two or more functions use.
 */
const root = join(import.meta.dirname, '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** The project files a module imports (relative imports, resolved as the bundler does). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].flatMap((match) => {
    const base = resolve(dirname(file), match[1] as string);
    const found = [base, `${base}.ts`, join(base, 'index.ts')].find((path) => existsSync(path) && statSync(path).isFile());
    return found ? [found] : [];
  });
}

const room = (file: string) => relative(root, file).split('/').slice(0, 2).join('/');
const functionRooms = readdirSync(join(root, 'functions')).map((name) => `functions/${name}`);

/** Literals that begin like another room's alert key but are no alert key, each with why. */
const notAlertKeys: Array<{ file: string; prefix: string; why: string }> = [
  { file: 'functions/report/scorecard.ts', prefix: 'partitions:', why: 'scorecard row ids, partitions:<table>' },
  { file: 'functions/report/trends.ts', prefix: 'partitions:', why: 'reads the scorecard row ids above' },
];

/**
 * The alert keys a source file spells itself: each string or template literal (outside comments)
 * that begins with a key prefix of lib/alerts/keys.ts, with the function folder owning that prefix.
 */
function alertKeyLiterals(text: string): Array<{ prefix: string; owner: string; line: number }> {
  const prefixes = Object.keys(alertKeyPrefixes).map((prefix) => prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const literal = new RegExp(`['"\`](${prefixes.join('|')})`, 'g');
  return text.split('\n').flatMap((source, index) => {
    if (/^\s*(\/\/|\/\*|\*)/.test(source)) return [];
    return [...source.matchAll(literal)].map((match) => {
      const prefix = match[1] as keyof typeof alertKeyPrefixes;
      return { prefix, owner: `functions/${alertKeyPrefixes[prefix]}`, line: index + 1 };
    });
  });
}

/** Where a file spells an alert key of a room not its own (lib/ owns none; keys.ts builds them all). */
function foreignAlertKeys(files: string[]): string[] {
  return files.flatMap((file) => {
    const path = relative(root, file);
    if (path === 'lib/alerts/keys.ts') return [];
    const own = path.startsWith('functions/') ? room(file) : 'lib';
    return alertKeyLiterals(readFileSync(file, 'utf8'))
      .filter(({ owner }) => owner !== own)
      .filter(({ prefix }) => !notAlertKeys.some((entry) => entry.file === path && entry.prefix === prefix))
      .map(({ prefix, owner, line }) => `${path}:${line} spells a ${prefix} key of ${owner}`);
  });
}

/** SQL a handler runs itself: a query call or a statement in a string. Handlers wire; their rooms' modules query. */
function sqlInHandler(text: string): string[] {
  return text
    .split('\n')
    .flatMap((line, index) =>
      !/^\s*(\/\/|\/\*|\*)/.test(line) &&
      (/\.query\s*[<(]/.test(line) ||
        /['"`]\s*(SELECT|INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM|CREATE|ALTER|DROP)\b/.test(line))
        ? [`${index + 1}: ${line.trim()}`]
        : [],
    );
}

/** Where a function of more than 80 lines may stay so: a comment within five lines above it saying why. */
const longFunctionReason = /Over 80 lines: \S/;

interface Declared {
  name: string;
  line: number;
  lines: number;
  /** A comment within five lines above it says why it is over 80 lines. */
  reasoned: boolean;
}

/**
 * The functions of a source file with their length, as biome formats them: a declaration
 * (function, const arrow, method) ends at the first line closing it at its own indentation.
 */
function declaredFunctions(text: string): Declared[] {
  const start =
    /^(\s*)(?:export\s+)?(?:default\s+)?(?:async\s+)?function\b\*?\s*(\w*)|^(\s*)(?:export\s+)?const\s+(\w+)\s*(?::[^=]+)?=\s*(?:async\s*)?(?:\([^)]*\)|\w+)\s*(?::[^=]+)?=>\s*\{\s*$|^(\s*)(?:(?:public|private|protected|static|async|readonly)\s+)*(\w+)\s*\([^)]*\)\s*(?::\s*[^{]+)?\{\s*$/;
  const lines = text.split('\n');
  const found: Declared[] = [];
  lines.forEach((source, index) => {
    const match = start.exec(source);
    if (!match) return;
    const indent = match[1] ?? match[3] ?? match[5] ?? '';
    const name = match[2] || match[4] || match[6] || '(anonymous)';
    if (['if', 'for', 'while', 'switch', 'catch', 'return'].includes(name)) return;
    const closing = new RegExp(`^${indent}\\}[);,]*\\s*$`);
    const end = lines.findIndex((candidate, at) => at > index && closing.test(candidate));
    if (end === -1) return;
    const reasoned = lines.slice(Math.max(0, index - 5), index).some((above) => longFunctionReason.test(above));
    found.push({ name, line: index + 1, lines: end - index + 1, reasoned });
  });
  return found;
}

/** The functions longer than `limit` lines without a reason. */
function longFunctions(text: string, limit = 80): Array<{ name: string; line: number; lines: number }> {
  return declaredFunctions(text)
    .filter((fn) => fn.lines > limit && !fn.reasoned)
    .map(({ name, line, lines }) => ({ name, line, lines }));
}

/** Reasons for a length a function no longer has: the comment outlived the cut. */
function staleReasons(text: string, limit = 80): Array<{ name: string; line: number; lines: number }> {
  const reasons = text.split('\n').flatMap((source, index) => (longFunctionReason.test(source) ? [index + 1] : []));
  const functions = declaredFunctions(text);
  return reasons.flatMap((reasonLine) => {
    const next = functions.find((fn) => fn.line > reasonLine && fn.line - reasonLine <= 5);
    return next && next.lines <= limit ? [{ name: next.name, line: next.line, lines: next.lines }] : [];
  });
}

describe('architecture', () => {
  it('a function imports only lib/ and its own folder; lib/ imports only lib/', () => {
    const crossings: string[] = [];
    for (const file of [...sourceFiles(join(root, 'functions')), ...sourceFiles(join(root, 'lib'))]) {
      const own = relative(root, file).startsWith('lib/') ? 'lib' : room(file);
      for (const target of importsOf(file)) {
        const targetPath = relative(root, target);
        const allowed = targetPath.startsWith('lib/') || (own !== 'lib' && room(target) === own);
        if (!allowed) crossings.push(`${relative(root, file)} -> ${targetPath}`);
      }
    }
    expect(crossings).toEqual([]);
  });

  it('every module of lib/ is used by two or more functions', () => {
    const usedBy = new Map<string, Set<string>>();
    for (const fn of functionRooms) {
      const seen = new Set<string>();
      const queue = sourceFiles(join(root, fn));
      while (queue.length > 0) {
        const file = queue.pop() as string;
        for (const target of importsOf(file)) {
          if (seen.has(target) || !relative(root, target).startsWith('lib/')) continue;
          seen.add(target);
          queue.push(target);
        }
      }
      for (const file of seen) usedBy.set(file, (usedBy.get(file) ?? new Set()).add(fn));
    }
    const lonely = sourceFiles(join(root, 'lib'))
      .map((file) => [relative(root, file), [...(usedBy.get(file) ?? [])]] as const)
      .filter(([, users]) => users.length < 2)
      .map(([file, users]) => `${file}: used by ${users.length === 0 ? 'no function' : users.join(', ')}`);
    expect(lonely).toEqual([]);
  });

  it('each function with settings of its own keeps them in its folder, none in lib/config.ts', () => {
    const shared = readFileSync(join(root, 'lib/config.ts'), 'utf8');
    for (const prefix of ['PROBE_', 'CACHE_', 'ROLLBACK_', 'PARTITION_', 'BACKUP_']) expect(shared).not.toContain(prefix);
    for (const fn of ['probe', 'cache-efficiency', 'rollback-decision', 'partition-maintenance', 'backup'])
      expect(existsSync(join(root, 'functions', fn, 'config.ts')), fn).toBe(true);
  });

  it("no room builds another room's alert key: keys come from lib/alerts/keys.ts", () => {
    expect(foreignAlertKeys([...sourceFiles(join(root, 'functions')), ...sourceFiles(join(root, 'lib'))])).toEqual([]);
  });

  it('every alert key prefix belongs to a function folder', () => {
    const owners = Object.values(alertKeyPrefixes).map((name) => `functions/${name}`);
    expect(owners.filter((owner) => !functionRooms.includes(owner))).toEqual([]);
  });

  it('no SQL in a handler: it wires config, clients and its room; the room runs the queries', () => {
    const handlers = functionRooms.map((folder) => join(root, folder, 'handler.ts')).filter((file) => existsSync(file));
    expect(handlers.length).toBe(functionRooms.length);
    const found = handlers.flatMap((file) =>
      sqlInHandler(readFileSync(file, 'utf8')).map((hit) => `${relative(root, file)}:${hit}`),
    );
    expect(found).toEqual([]);
    // The rule sees what it is for.
    expect(sqlInHandler("const { rows } = await db.query<{ n: number }>('SELECT 1 AS n');")).toHaveLength(1);
    expect(sqlInHandler('  "DELETE FROM vigil.alert_state"')).toHaveLength(1);
  });

  it('no function over 80 lines outside tests, or a comment above it saying why', () => {
    const files = ['functions', 'lib', 'local', 'bench'].flatMap((dir) => sourceFiles(join(root, dir)));
    const long = files.flatMap((file) =>
      longFunctions(readFileSync(file, 'utf8')).map(
        ({ name, line, lines }) => `${relative(root, file)}:${line} ${name} (${lines} lines)`,
      ),
    );
    expect(long).toEqual([]);
    // The rule sees what it is for: a planted 81-line function, and the same with its reason.
    const body = Array.from({ length: 79 }, (_, index) => `  step${index}();`).join('\n');
    expect(longFunctions(`export async function planted() {\n${body}\n}\n`)).toEqual([{ name: 'planted', line: 1, lines: 81 }]);
    expect(longFunctions(`// Over 80 lines: a table.\nexport async function planted() {\n${body}\n}\n`)).toEqual([]);
    expect(longFunctions(`export async function planted() {\n${body.split('\n').slice(1).join('\n')}\n}\n`)).toEqual([]);
  });

  it('no reason for being over 80 lines above a function that is not', () => {
    const files = ['functions', 'lib', 'local', 'bench'].flatMap((dir) => sourceFiles(join(root, dir)));
    const stale = files.flatMap((file) =>
      staleReasons(readFileSync(file, 'utf8')).map(
        ({ name, line, lines }) => `${relative(root, file)}:${line} ${name} (${lines} lines)`,
      ),
    );
    expect(stale).toEqual([]);
    // The rule sees what it is for: a reason above a planted 80-line function, and above an 81-line one.
    const body = Array.from({ length: 78 }, (_, index) => `  step${index}();`).join('\n');
    const planted = (extra: string) => `// Over 80 lines: a table.\nexport async function planted() {\n${body}${extra}\n}\n`;
    expect(staleReasons(planted(''))).toEqual([{ name: 'planted', line: 2, lines: 80 }]);
    expect(staleReasons(planted('\n  step78();'))).toEqual([]);
  });

  it('handler tests load handlers only through the shared fixture', () => {
    const direct = sourceFiles(join(root, 'test'))
      .filter((file) => !file.endsWith('handler-fixture.ts'))
      .filter((file) => /functions\/[a-z-]+\/handler'/.test(readFileSync(file, 'utf8')))
      .map((file) => relative(root, file));
    expect(direct).toEqual([]);
  });
});
