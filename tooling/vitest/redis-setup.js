/**
 * Vitest globalSetup: one private redis-server for the whole run. Tests find it in
 * `process.env.MAILWAY_TEST_REDIS_URL` and must use their own key prefix, since test files run
 * in parallel against it.
 */
import { startRedis } from './redis.js';

let redis = null;

export async function setup() {
  redis = await startRedis();
  process.env.MAILWAY_TEST_REDIS_URL = redis.url;
}

export async function teardown() {
  await redis?.stop();
}
