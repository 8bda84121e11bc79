/**
 * What the queue command tests share around their queues: waiting for the queues to settle, and
 * closing the queues and connections and deleting the file's keys after it.
 */
import type { Redis } from 'ioredis';
import type { MailQueue, QueueName } from '@mailway/queue/queues';
import { dropKeys } from '@mailway/testing/redis';
import { waitFor } from '@mailway/testing/wait';

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
