import { defineConfig } from 'vitest/config';
import { mailwayVitest, redisSetup } from '@mailway/vitest-config';

// One run over the whole workspace, so CI gets a single summary line; one private
// redis-server for the run (tests use their own key prefixes).
const preset = mailwayVitest({
  include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'apps/*/test/**/*.test.ts'],
  globalSetup: [redisSetup],
});

export default defineConfig(preset);
