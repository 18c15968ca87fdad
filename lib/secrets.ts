import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { boundedRequestHandler } from './aws/timeouts';
import { errorMessage, SecretError } from './errors';
import { maxAge } from './parameter-cache';

// Powertools' provider with its cache, on a client whose waits are bounded like every other.
const secrets = new SecretsProvider({ clientConfig: { requestHandler: boundedRequestHandler('secretsManager') } });

/** Reads a Secrets Manager secret as a string. The value is never logged. */
export async function fetchSecret(secretId: string, options: { forceFetch?: boolean } = {}): Promise<string> {
  try {
    // forceFetch: past the cache, after the database refused the cached credentials.
    const value = await secrets.get(secretId, { maxAge, forceFetch: options.forceFetch ?? false });
    if (typeof value !== 'string') throw new SecretError(`Secret ${secretId} is not a string secret`);
    return value;
  } catch (error) {
    if (error instanceof SecretError) throw error;
    throw new SecretError(`Cannot read secret ${secretId}: ${errorMessage(error)}`, { cause: error });
  }
}
