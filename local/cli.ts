import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { errorMessage } from '../lib/errors';

/*
 * The operator commands' one way to read their arguments: `--help` answers before anything is
 * read, connected or written (and exits 0); an unknown flag or a missing value is refused with the
 * usage (exit 2), never ignored.
 */
export interface Command<Options extends NonNullable<ParseArgsConfig['options']>> {
  /** The command line as typed: `npm run decide -- [--complaints N] [--json]`. */
  usage: string;
  /** What it does and what each option means, for --help. */
  help: string;
  options: Options;
  positionals?: boolean;
}

export function usageError(command: { usage: string }, message: string): never {
  process.stderr.write(`${message}\nusage: ${command.usage}\n(--help says more)\n`);
  process.exit(2);
}

export function parseCommand<Options extends NonNullable<ParseArgsConfig['options']>>(
  command: Command<Options>,
  args = process.argv.slice(2),
) {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`usage: ${command.usage}\n\n${command.help.trim()}\n`);
    process.exit(0);
  }
  try {
    return parseArgs({ args, options: command.options, allowPositionals: command.positionals ?? false, strict: true });
  } catch (error) {
    return usageError(command, errorMessage(error));
  }
}

/**
 * Whether the module whose `import.meta.url` this is was the script Node was started with (what
 * `require.main === module` said in CommonJS). `import.meta.main` says the same from Node 22.18
 * and 24.2 only; engines allows older.
 */
export function isMainModule(moduleUrl: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return moduleUrl === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}
