import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.js';

describe('createMetrics', () => {
  it('prefixes names, labels every series with the agent, and includes process metrics', async () => {
    const metrics = createMetrics('submission');
    metrics.counter('messages_accepted_total', 'Messages accepted.', ['port']).inc({ port: '587' }, 2);
    metrics.gauge('sessions', 'Open SMTP sessions.').set(3);
    metrics.histogram('data_seconds', 'Time to receive DATA.', [], [0.1, 1]).observe(0.5);

    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^mailway_messages_accepted_total\{port="587",agent="submission"\} 2$/m);
    expect(text).toMatch(/^mailway_sessions\{agent="submission"\} 3$/m);
    expect(text).toMatch(/^mailway_data_seconds_bucket\{le="1",agent="submission"\} 1$/m);
    expect(text).toMatch(/^process_cpu_user_seconds_total\{agent="submission"\} /m);
  });

  it('gives each agent its own registry and returns the same metric for the same name', async () => {
    const a = createMetrics('relay');
    const b = createMetrics('delivery');
    const counter = a.counter('bounces_total', 'Bounces generated.');
    expect(a.counter('bounces_total', 'Bounces generated.')).toBe(counter);
    counter.inc();

    expect(await a.registry.metrics()).toMatch(/^mailway_bounces_total\{agent="relay"\} 1$/m);
    expect(await b.registry.metrics()).not.toContain('mailway_bounces_total');
  });
});
