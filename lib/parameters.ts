import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { boundedRequestHandler } from './aws/timeouts';
import { errorMessage, SecretError } from './errors';
import { maxAge } from './parameter-cache';

// Powertools' provider with its cache, on a client whose waits are bounded like every other.
const parameters = new SSMProvider({ clientConfig: { requestHandler: boundedRequestHandler('ssm') } });

/** Reads an SSM parameter (decrypted when it is a SecureString). */
export async function fetchParameter(name: string): Promise<string> {
  try {
    const value = await parameters.get(name, { decrypt: true, maxAge });
    if (value === undefined) throw new SecretError(`SSM parameter ${name} has no value`);
    return value;
  } catch (error) {
    if (error instanceof SecretError) throw error;
    throw new SecretError(`Cannot read SSM parameter ${name}: ${errorMessage(error)}`, { cause: error });
  }
}
