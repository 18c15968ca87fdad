import { type ParseArgsConfig, parseArgs } from 'node:util';

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
    return usageError(command, (error as Error).message);
  }
}
