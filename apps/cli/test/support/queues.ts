/**
 * What the queue command tests share around their queues: the connections and the three queues
 * under the file's prefix, waiting for the queues to settle, and closing the queues and
 * connections and deleting the file's keys after it.
 */
import type { Redis } from 'ioredis';
import { type MailQueue, type QueueName, bullPrefix, createMailQueue } from '@mailway/queue/queues';
import { createRedis, waitForRedis } from '@mailway/queue/redis';
import { dropKeys } from '@mailway/testing/redis';
import { waitFor } from '@mailway/testing/wait';

export interface QueueTestHandles {
  /** The agents' command connection (queues and spool). */
  readonly command: Redis;
  /** A connection for the workers a test runs. */
  readonly workerConnection: Redis;
  readonly queues: { readonly transfer: MailQueue<'transfer'>; readonly outbound: MailQueue<'outbound'>; readonly delivery: MailQueue<'delivery'> };
}

/** Connects to the test run's Redis and opens the queues under `prefix`. */
export async function openQueues(prefix: string): Promise<QueueTestHandles> {
  const url = process.env.MAILWAY_TEST_REDIS_URL!;
  const command = createRedis(url, { role: 'command' });
  const workerConnection = createRedis(url, { role: 'worker' });
  await Promise.all([waitForRedis(command), waitForRedis(workerConnection)]);
  const bull = bullPrefix(prefix);
  const queues = { transfer: createMailQueue('transfer', command, { prefix: bull }), outbound: createMailQueue('outbound', command, { prefix: bull }), delivery: createMailQueue('delivery', command, { prefix: bull }) };
  return { command, workerConnection, queues };
}

/** Waits until `probe` says yes (20 s at most). */
export async function until(probe: () => Promise<boolean>): Promise<void> {
  await waitFor('the queues to reach the expected state', probe, { timeoutMs: 20_000 });
}

/** Closes the test file's queues and connections, and deletes every key under its prefix. */
export async function closeQueues(handles: { readonly queues: Readonly<Record<string, MailQueue<QueueName>>>; readonly command: Redis; readonly workerConnection: Redis; readonly prefix: string }): Promise<void> {
  await Promise.all(Object.values(handles.queues).map((q) => q.close()));
  await dropKeys(handles.command, handles.prefix);
  handles.command.disconnect();
  handles.workerConnection.disconnect();
}
