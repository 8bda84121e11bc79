/**
 * The submission agent's service in docker-compose.yml, as Docker Compose reads it: only settings
 * the agent knows, a configuration that loads, and the ports it listens on published and exposed.
 */
import { expect, it } from 'vitest';
import { composeServices, unknownSettings } from '@mailway/testing/compose';
import { loadSubmissionConfig, submissionConfigSchema } from '../src/index.js';

it('docker-compose.yml runs submission with settings it knows, on the ports it publishes', async () => {
  const service = (await composeServices()).submission;
  if (service === undefined) throw new Error('docker-compose.yml has no submission service');
  expect(unknownSettings(service, submissionConfigSchema)).toEqual([]);
  const config = loadSubmissionConfig({ env: { ...service.environment }, file: null });
  const listening = [config.submission.port, config.submission.tlsPort];
  expect(service.args.AGENT).toBe('submission');
  expect([...service.targets].sort()).toEqual([...listening, config.http.port].sort());
  expect(service.args.PORTS?.split(' ').map(Number).sort()).toEqual([...listening].sort());
  expect(Number(service.args.HTTP_PORT)).toBe(config.http.port);
  expect([config.submission.host, config.http.host]).toEqual(['0.0.0.0', '0.0.0.0']);
});
