import type { Config } from './config';
import { notJsonMessage } from './config-fields';
import { ConfigError } from './errors';
import { fetchParameter } from './parameters';
import { resolveThresholds, type Thresholds } from './thresholds';

/**
 * The thresholds in force: defaults, then the SSM parameter (when configured), then the
 * VIGIL_THRESHOLDS variable, the most local word winning. Without an SSM parameter this is the
 * value already resolved at cold start, with no call.
 */
export async function loadThresholds(
  section: Config['thresholds'],
  readParameter: (name: string) => Promise<string> = fetchParameter,
): Promise<Thresholds> {
  if (!section.ssmParameter) return section.thresholds;
  const source = `VIGIL_THRESHOLDS_SSM_PARAMETER (${section.ssmParameter})`;
  let fromSsm: unknown;
  try {
    fromSsm = JSON.parse(await readParameter(section.ssmParameter));
  } catch (error) {
    if (error instanceof SyntaxError) {
      throw new ConfigError([{ variable: source, message: notJsonMessage(error) }], { cause: error });
    }
    throw error;
  }
  const layers = [{ source, overrides: fromSsm }];
  if (section.environmentOverrides !== undefined) {
    layers.push({ source: 'VIGIL_THRESHOLDS', overrides: section.environmentOverrides });
  }
  const { thresholds, problems } = resolveThresholds(layers);
  if (problems.length > 0) throw new ConfigError(problems);
  return thresholds;
}
