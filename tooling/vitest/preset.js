/**
 * Shared vitest preset for every Mailway workspace.
 *
 * Resolves workspace packages to their TypeScript sources (the `@mailway/source` export
 * condition), so tests never depend on a stale build, and adds the summary reporter that
 * prints the plain `N passed, N failed` line CI reads.
 */
import { fileURLToPath } from 'node:url';

const summaryReporter = fileURLToPath(new URL('./summary-reporter.js', import.meta.url));

/** globalSetup entry that starts a private redis-server for the run (see redis-setup.js). */
export const redisSetup = fileURLToPath(new URL('./redis-setup.js', import.meta.url));

/** @param {{ include?: string[], globalSetup?: string[], testTimeout?: number }} [options] */
export function mailwayVitest(options = {}) {
  return {
    resolve: { conditions: ['@mailway/source'] },
    ssr: { resolve: { conditions: ['@mailway/source'] } },
    test: {
      include: options.include ?? ['src/**/*.test.ts', 'test/**/*.test.ts'],
      globalSetup: options.globalSetup ?? [],
      testTimeout: options.testTimeout ?? 30_000,
      hookTimeout: 30_000,
      reporters: ['default', summaryReporter],
      pool: 'forks',
    },
  };
}
