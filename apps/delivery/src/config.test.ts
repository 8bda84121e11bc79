/**
 * DELIVERY_JUNK_FOLDER: `Junk` by default, and start-up stopped, naming the key, by a name that
 * is not one safe folder.
 */
import { describe, expect, it } from 'vitest';
import { loadDeliveryConfig } from './config.js';

const load = (env: Record<string, string>) => loadDeliveryConfig({ env: { MAILWAY_HOSTNAME: 'mda.local.example', ...env }, file: null });

describe('DELIVERY_JUNK_FOLDER', () => {
  it('is Junk unless set', () => {
    expect(load({}).delivery.junkFolder).toBe('Junk');
    expect(load({ DELIVERY_JUNK_FOLDER: 'Spam' }).delivery.junkFolder).toBe('Spam');
  });

  it.each(['.Junk', '../Junk', 'Junk/Spam', ''])('refuses %j', (name) => {
    expect(() => load({ DELIVERY_JUNK_FOLDER: name })).toThrow(/DELIVERY_JUNK_FOLDER.*folder name/);
  });
});
