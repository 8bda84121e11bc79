/**
 * The delivery agent's service in docker-compose.yml, as Docker Compose reads it: only settings
 * the agent knows, a configuration that loads, LMTP on the port the image exposes, and the
 * mailboxes on the volume.
 */
import { expect, it } from 'vitest';
import { composeServices, unknownSettings } from '@mailway/testing/compose';
import { deliveryConfigSchema, loadDeliveryConfig } from '../src/index.js';

it('docker-compose.yml runs delivery with settings it knows, its mailboxes on the mail volume', async () => {
  const service = (await composeServices()).delivery;
  if (service === undefined) throw new Error('docker-compose.yml has no delivery service');
  expect(unknownSettings(service, deliveryConfigSchema)).toEqual([]);
  const config = loadDeliveryConfig({ env: { ...service.environment }, file: null });
  expect(service.args.AGENT).toBe('delivery');
  // Only its HTTP port is published; LMTP serves the other containers.
  expect(service.targets).toEqual([config.http.port]);
  expect(service.args.PORTS?.split(' ').map(Number)).toEqual([config.delivery.lmtp.port]);
  expect(Number(service.args.HTTP_PORT)).toBe(config.http.port);
  expect([config.delivery.lmtp.host, config.http.host]).toEqual(['0.0.0.0', '0.0.0.0']);
  expect(service.args.DATA_DIR).toBe(config.delivery.mailboxRoot);
  expect(service.mounts).toContain(config.delivery.mailboxRoot);
});
