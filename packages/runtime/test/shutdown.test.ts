import { afterEach, describe, expect, it } from 'vitest';
import { type Fixture, startFixture } from './support/child.js';

const started: Fixture[] = [];
afterEach(() => {
  for (const fixture of started.splice(0)) if (fixture.process.exitCode === null) fixture.process.kill('SIGKILL');
});

/** Starts the shutdown fixture and waits until its handler is installed. */
async function fixture(env: Record<string, string> = {}): Promise<Fixture> {
  const child = startFixture('shutdown', env);
  started.push(child);
  await child.waitFor((line) => line === 'installed');
  return child;
}

describe('onShutdown', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('runs the handler once on %s, then reports repeats', async (signal) => {
    const child = await fixture();
    child.process.kill(signal);
    await child.waitFor((line) => line.startsWith('handler'));
    child.process.kill('SIGTERM');
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(child.lines).toEqual(['installed', `handler ${signal}`, 'repeat SIGTERM']);
  });

  it('leaves the default signal behaviour once uninstalled', async () => {
    const child = await fixture({ FIXTURE_UNINSTALL: '1' });
    child.process.kill('SIGTERM');
    expect(await child.exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(child.lines).toEqual(['installed']);
  });
});
