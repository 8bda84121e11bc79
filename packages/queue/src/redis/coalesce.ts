/**
 * One write per tick on a Redis connection. ioredis writes each command to its socket on its
 * own, one system call each; an agent with many messages in flight sends several commands in
 * the same tick (a batch of replies arrives, and each message it answers takes its next step).
 * Corking the socket at the first write of a tick and uncorking it once the tick's callbacks and
 * promise continuations have run hands the kernel all of them in one writev. Nothing waits:
 * the uncork comes before the event loop next polls for I/O.
 *
 * Applied to every socket the client opens (it opens a new one on each reconnect), and for a
 * cluster to the connection to each node.
 */
import type { Socket } from 'node:net';
import type { Redis } from 'ioredis';

const coalescing = Symbol('mailway.coalescing');

type CoalescedSocket = Socket & { [coalescing]?: true };

/** Makes `redis` coalesce the writes of one tick on each of its connections. */
export function coalesceWrites(redis: Redis): void {
  const apply = (): void => {
    const socket = (redis as unknown as { stream?: CoalescedSocket }).stream;
    if (socket === undefined || socket[coalescing] === true) return;
    socket[coalescing] = true;
    const write = socket.write;
    let corked = false;
    socket.write = function (this: Socket, ...args: Parameters<Socket['write']>): boolean {
      if (!corked) {
        corked = true;
        socket.cork();
        process.nextTick(() => {
          corked = false;
          socket.uncork();
        });
      }
      return write.apply(this, args);
    } as Socket['write'];
  };
  redis.on('connect', apply);
  apply();
}
