import { defineConfig } from 'vitest/config';
import { mailwayVitest } from '@mailway/vitest-config';

// One run over the whole workspace, so CI gets a single summary line.
const preset = mailwayVitest({
  include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'apps/*/test/**/*.test.ts'],
});

export default defineConfig(preset);
