/**
 * openSpool: the spool an agent is configured with (MAILWAY_SPOOL, MAILWAY_SPOOL_DIR). Redis
 * expires an entry's keys by itself; for the filesystem backend this also runs the periodic
 * sweep that deletes the files of entries past their expiry (an expired entry is already
 * absent to every reader; the sweep reclaims the disk). Agents sharing a directory may all
 * sweep it: a deletion is a rename, and the loser of a race finds nothing to do.
 */
import type { Redis } from 'ioredis';
import { createFsSpool } from './fs-spool.js';
import { createRedisSpool } from './redis-spool.js';
import type { Spool } from './spool.js';

export interface SpoolSettings {
  readonly backend: 'redis' | 'fs';
  /** The filesystem spool's directory. */
  readonly directory: string;
  /** How often the filesystem spool is swept (ms), default 15 minutes. */
  readonly sweepEvery?: number;
}

export interface OpenSpoolOptions {
  /** Redis key prefix, e.g. 'mailway:'. */
  readonly prefix: string;
  /** Where each sweep that removed something, or failed, is logged (a pino logger fits). */
  readonly logger: SweepLogger;
}

export interface SweepLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface OpenedSpool {
  readonly spool: Spool;
  /** Stops the sweep (nothing to do for Redis). */
  close(): void;
}

const defaultSweepEveryMs = 15 * 60 * 1000;

/** The configured spool over `redis` (a 'command' role client), sweeping when it is a directory. */
export function openSpool(settings: SpoolSettings, redis: Redis, options: OpenSpoolOptions): OpenedSpool {
  if (settings.backend === 'redis') return { spool: createRedisSpool(redis, { prefix: options.prefix }), close: () => {} };

  const spool = createFsSpool({ directory: settings.directory });
  let running = false;
  const sweep = async (): Promise<void> => {
    // One sweep at a time: a slow disk must not pile them up.
    if (running) return;
    running = true;
    try {
      const removed = await spool.sweep();
      if (removed > 0) options.logger.info({ removed, directory: settings.directory }, 'expired spool entries removed');
    } catch (error) {
      options.logger.warn({ err: error, directory: settings.directory }, 'spool sweep failed; retried at the next one');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void sweep(), settings.sweepEvery ?? defaultSweepEveryMs);
  timer.unref();
  return { spool, close: () => clearInterval(timer) };
}
