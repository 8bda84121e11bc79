/**
 * The relay's service in docker-compose.yml, as Docker Compose reads it: only settings the relay
 * knows, a configuration that loads, and the ports it listens on published and exposed.
 */
import { expect, it } from 'vitest';
import { composeServices, unknownSettings } from '@mailway/testing/compose';
import { loadRelayConfig, relayConfigSchema } from '../src/index.js';

it('docker-compose.yml runs the relay with settings it knows, on the ports it publishes', async () => {
  const service = (await composeServices()).relay;
  if (service === undefined) throw new Error('docker-compose.yml has no relay service');
  expect(unknownSettings(service, relayConfigSchema)).toEqual([]);
  const config = loadRelayConfig({ env: { ...service.environment }, file: null });
  expect(service.args.AGENT).toBe('relay');
  expect([...service.targets].sort()).toEqual([config.relay.port, config.http.port].sort());
  expect(service.args.PORTS?.split(' ').map(Number)).toEqual([config.relay.port]);
  expect(Number(service.args.HTTP_PORT)).toBe(config.http.port);
  // Reachable from the other containers and the published ports, not only inside its own.
  expect([config.relay.host, config.http.host]).toEqual(['0.0.0.0', '0.0.0.0']);
});
