/*
 * Captured text (pg_dump's stderr, error messages, URLs, notes) can carry credentials. Everything
 * free-form that leaves Vigil (an alert, a log line, a stored row, an HTTP answer) passes through
 * here first. The property test (test/unit/fuzz/redaction.fuzz.test.ts) holds it to that.
 */

/** Query parameters whose values are credentials, wherever they appear in a URL. */
const sensitiveQueryKey =
  '(?:access[_-]?token|refresh[_-]?token|id[_-]?token|token|api[_-]?key|apikey|key|client[_-]?secret|secret|password|passwd|pwd|signature|sig|auth|code|x-amz-[a-z-]+|x-goog-[a-z-]+)';

/** Names of settings and fields whose values are credentials (as the whole name, or its last word). */
const sensitiveName =
  '[A-Za-z0-9_.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?|auth)';

const patterns: Array<[RegExp, string | ((...groups: string[]) => string)]> = [
  // PEM private keys, before anything cuts into them
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, '[REDACTED-PRIVATE-KEY]'],
  // user:password@ in any URL or connection string; the password may hold anything but @ and space
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@?#]*):[^\s@]*@/gi, '$1:[REDACTED]@'],
  // sensitive query parameters (?access_token=..., &X-Amz-Signature=...)
  [new RegExp(`([?&;]${sensitiveQueryKey}=)(?!\\[REDACTED)[^&#\\s"'<>]*`, 'gi'), '$1[REDACTED]'],
  // name=value, name: value and "name": "value" pairs whose name says secret (DB_PASSWORD=, client_secret:)
  [new RegExp(`(\\b${sensitiveName}["']?\\s*[=:]\\s*)(?!\\[REDACTED)("[^"]*"|'[^']*'|[^\\s,;&"'}\\]]+)`, 'gi'), '$1[REDACTED]'],
  // the same said in words: "password is hunter2", "the token was abc123"
  [
    new RegExp(
      `(\\b(?:${sensitiveName}|(?:api|access|private|secret) key)\\s+(?:is now|is|was|set to)\\s+)(?!\\[REDACTED|now\\b)("[^"]*"|'[^']*'|[^\\s,;&"'}\\]]+)`,
      'gi',
    ),
    '$1[REDACTED]',
  ],
  // Authorization headers, whatever the scheme and whatever the credential's characters
  [
    /\b((?:Proxy-)?Authorization["']?\s*[:=]\s*["']?)(?!(?:(?:Bearer|Basic|Token|Digest|AWS4-HMAC-SHA256)\s+)?\[REDACTED)(?:(Bearer|Basic|Token|Digest|AWS4-HMAC-SHA256)\s+)?[^\s"']+/gi,
    (_match: string, name: string, scheme?: string) => `${name}${scheme ? `${scheme} ` : ''}[REDACTED]`,
  ],
  [/\b(Bearer|Basic)\s+(?!\[REDACTED)[^\s"']{6,}/g, '$1 [REDACTED]'],
  // AWS access key ids
  [/\b(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{16}\b/g, '[REDACTED-AWS-KEY]'],
  // GitHub tokens (classic and fine-grained)
  [/\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})/g, '[REDACTED-GITHUB-TOKEN]'],
  // Slack tokens
  [/\bxox[abposr]-[A-Za-z0-9-]{10,}/g, '[REDACTED-SLACK-TOKEN]'],
  // Stripe-style and Google API keys
  [/\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}/g, '[REDACTED-API-KEY]'],
  [/\bAIza[0-9A-Za-z_-]{35}\b/g, '[REDACTED-API-KEY]'],
  // JWTs
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, '[REDACTED-JWT]'],
];

export function redact(text: string): string {
  let result = text;
  for (const [pattern, replacement] of patterns) result = result.replace(pattern, replacement as (...groups: string[]) => string);
  return result;
}

/** Every string inside a value (objects and arrays walked), redacted; other values as they are. */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((item) => redactDeep(item)) as T;
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactDeep(item)])) as T;
  }
  return value;
}

/**
 * A URL as Vigil stores and shows it: no user-info, sensitive query parameters masked (redact()).
 * Text that is not a URL is redacted as text.
 */
export function safeUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return redact(url);
  }
  parsed.username = '';
  parsed.password = '';
  return redact(parsed.toString());
}
