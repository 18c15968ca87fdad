import { createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AlertDeliveryError, publishAlert } from '../../../lib/alerts/publish';
import { renderAlert } from '../../../lib/alerts/render';
import { createSnsClient } from '../../../lib/aws/sns';
import { awsConnectionTimeoutMs, awsRequestTimeoutMs } from '../../../lib/aws/timeouts';
import { logger } from '../../../lib/logger';
import { sampleAlert } from '../../support/alerts';

/*
 * SNS that accepts connections and never answers: every attempt ends at the request timeout, the
 * retries run, and the invocation gets an error naming SNS and the alert, long before a Lambda's
 * timeout, instead of hanging on it.
 */
describe('SNS black-holed', () => {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  let endpoint = '';

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('ends each attempt at the request timeout, retries, and fails naming SNS and the alert key', async () => {
    const sns = createSnsClient({ region: 'us-east-1', snsEndpoint: endpoint } as Parameters<typeof createSnsClient>[0], 2);
    const rendered = renderAlert(sampleAlert({ key: 'probe:dashboard:down' }), {
      kind: 'firing',
      stage: 'test',
      smsDisplayName: 'VIGIL',
      since: new Date(),
      sentAt: new Date(),
      repeatIntervalMinutes: 240,
    });
    const logged = vi.spyOn(logger, 'error');
    const warned = vi.spyOn(logger, 'warn');
    const started = Date.now();
    const failure = await publishAlert(sns, 'arn:aws:sns:us-east-1:000000000000:vigil-test', rendered).catch(
      (error: unknown) => error,
    );
    const elapsedMs = Date.now() - started;
    expect(failure).toBeInstanceOf(AlertDeliveryError);
    expect((failure as AlertDeliveryError).attempts).toBe(2);
    expect((failure as Error).message).toContain('probe:dashboard:down');
    // Two attempts of at most the request timeout each (plus connecting and the backoff), not a hang.
    expect(elapsedMs).toBeGreaterThanOrEqual(2 * awsRequestTimeoutMs.sns - 500);
    expect(elapsedMs).toBeLessThan(2 * (awsRequestTimeoutMs.sns + awsConnectionTimeoutMs) + 2_000);
    expect(warned).toHaveBeenCalledWith(
      'alert publish failed, retrying',
      expect.objectContaining({ service: 'SNS', alertKey: 'probe:dashboard:down' }),
    );
    expect(logged).toHaveBeenCalledWith(
      'alert could not be published',
      expect.objectContaining({ service: 'SNS', alertKey: 'probe:dashboard:down' }),
    );
  }, 30_000);
});
