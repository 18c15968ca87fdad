import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { getParameter } from '@aws-lambda-powertools/parameters/ssm';
import { SecretError } from './errors';

/** Cached per container for five minutes, so a warm invocation makes no call. */
const maxAge = 300;

/** Reads an SSM parameter (decrypted when it is a SecureString). */
export async function fetchParameter(name: string): Promise<string> {
  try {
    const value = await getParameter(name, { decrypt: true, maxAge });
    if (value === undefined) throw new SecretError(`SSM parameter ${name} has no value`);
    return value;
  } catch (error) {
    if (error instanceof SecretError) throw error;
    throw new SecretError(`Cannot read SSM parameter ${name}: ${(error as Error).message}`, { cause: error });
  }
}

/** Reads a Secrets Manager secret as a string. The value is never logged. */
export async function fetchSecret(secretId: string): Promise<string> {
  try {
    const value = await getSecret(secretId, { maxAge });
    if (typeof value !== 'string') throw new SecretError(`Secret ${secretId} is not a string secret`);
    return value;
  } catch (error) {
    if (error instanceof SecretError) throw error;
    throw new SecretError(`Cannot read secret ${secretId}: ${(error as Error).message}`, { cause: error });
  }
}
