/**
 * docker-compose.yml as Docker Compose itself reads it: `docker-compose config` (Debian's
 * docker-compose, no engine needed) validates the file, merges its anchors and fills in its
 * variables; the result is parsed here so that each agent's tests can check its service against
 * its own settings: every environment key is one the agent knows, the agent's configuration
 * loads from that environment, and the ports it listens on are the ports the service publishes.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { z } from 'zod';
import { describeSettings } from '@mailway/config';
import { parse } from 'yaml';

/** The repository's compose file. */
export const composeFile = fileURLToPath(new URL('../../../docker-compose.yml', import.meta.url));

export interface ComposeService {
  readonly environment: Readonly<Record<string, string>>;
  /** Build arguments (the root Dockerfile's AGENT, PORTS, HTTP_PORT, DATA_DIR). */
  readonly args: Readonly<Record<string, string>>;
  /** Container ports published. */
  readonly targets: readonly number[];
  /** Container paths with a volume mounted. */
  readonly mounts: readonly string[];
}

interface RawService {
  environment?: Record<string, string | number | boolean | null>;
  build?: { args?: Record<string, string | number> };
  ports?: Array<{ target: number } | string>;
  volumes?: Array<{ target: string } | string>;
}

/** The services of `file` as Compose reads it; rejects with Compose's own message when the file is invalid. */
export async function composeServices(file = composeFile): Promise<Record<string, ComposeService>> {
  const { stdout } = await promisify(execFile)('docker-compose', ['-f', file, 'config'], { env: { PATH: process.env.PATH ?? '' } });
  const services = (parse(stdout) as { services: Record<string, RawService> }).services;
  return Object.fromEntries(
    Object.entries(services).map(([name, raw]) => [
      name,
      {
        environment: Object.fromEntries(Object.entries(raw.environment ?? {}).map(([key, value]) => [key, value === null ? '' : String(value)])),
        args: Object.fromEntries(Object.entries(raw.build?.args ?? {}).map(([key, value]) => [key, String(value)])),
        // '0.0.0.0:25:25/tcp' in Compose 1.x's output, { target: 25 } in 2.x's.
        targets: (raw.ports ?? []).map((port) => (typeof port === 'string' ? Number(port.split(':').at(-1)?.split('/')[0]) : port.target)),
        mounts: (raw.volumes ?? []).map((volume) => (typeof volume === 'string' ? (volume.split(':')[1] ?? volume) : volume.target)),
      },
    ]),
  );
}

/** Environment keys of `service` that the agent's settings `schema` does not know. */
export function unknownSettings(service: ComposeService, schema: z.ZodType): string[] {
  const known = new Set(describeSettings(schema).map((setting) => setting.env));
  return Object.keys(service.environment).filter((key) => !known.has(key));
}
