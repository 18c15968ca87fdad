/** What went wrong, from anything thrown: an Error's message, or the thrown value as text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Base of every error Vigil raises on purpose; `cause` is always kept. */
export class VigilError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VigilError';
  }
}

export interface ConfigProblem {
  /** The environment variable (or variable and JSON path) at fault. */
  variable: string;
  message: string;
}

/** Invalid configuration: thrown at cold start, naming every bad variable at once. */
export class ConfigError extends VigilError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[], options?: { cause?: unknown }) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}): ${problems
        .map((problem) => `${problem.variable}: ${problem.message}`)
        .join('; ')}`,
      options,
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** A database operation failed; the message says which one. */
export class DatabaseError extends VigilError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DatabaseError';
  }
}

/** A secret or parameter could not be read from SSM or Secrets Manager. */
export class SecretError extends VigilError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SecretError';
  }
}
