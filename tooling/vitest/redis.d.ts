/** A private redis-server for a test; see redis.js. */
export interface TestRedis {
  readonly port: number;
  readonly url: string;
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

/** Start a redis-server on a free loopback port (nothing persisted, noeviction); `extraArgs` adds configuration. */
export function startRedis(options?: { extraArgs?: string[] }): Promise<TestRedis>;

/** A restartable redis-server keeping its data (AOF, appendfsync always) in a temporary folder; see redis.js. */
export interface DurableRedis {
  readonly port: number;
  readonly url: string;
  /** Start (again), on the same port and data; resolves once it answers PING. */
  start(): Promise<void>;
  /** SIGKILL: no chance to write anything more. */
  kill(): Promise<void>;
  /** Kill it and delete its folder. */
  remove(): Promise<void>;
}

/** A redis-server on a free loopback port with its data in a new temporary folder, not started yet. */
export function durableRedis(): Promise<DurableRedis>;

/** A port nobody listens on right now (on 127.0.0.1). */
export function freePort(): Promise<number>;
