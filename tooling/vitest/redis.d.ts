/** A private redis-server for a test; see redis.js. */
export interface TestRedis {
  readonly port: number;
  readonly url: string;
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

/** Start a redis-server on a free loopback port (nothing persisted, noeviction); `extraArgs` adds configuration. */
export function startRedis(options?: { extraArgs?: string[] }): Promise<TestRedis>;
