import { defineConfig } from 'vitest/config';
import { mailwayVitest, redisSetup } from '@mailway/vitest-config';

export default defineConfig(mailwayVitest({ globalSetup: [redisSetup] }));
