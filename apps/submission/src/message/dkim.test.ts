/**
 * The signer against mailauth's verifier with a clock that moves while it signs: the t= tag
 * must be the one the signature was computed over.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createDkimSigner } from './dkim.js';

const pair = generateKeyPairSync('rsa', { modulusLength: 1024 });
const publicKey = pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const resolver = async (name: string, type: string): Promise<string[][]> => {
  if (name === 's1._domainkey.example.org' && type === 'TXT') return [[`v=DKIM1; k=rsa; p=${publicKey}`]];
  throw Object.assign(new Error(`no ${type} for ${name}`), { code: 'ENOTFOUND' });
};
const message = Buffer.from('From: alice@example.org\r\nTo: bob@example.net\r\nSubject: clock\r\nDate: Mon, 07 Dec 2026 09:00:00 +0000\r\n\r\nBody.\r\n');

afterEach(() => {
  vi.restoreAllMocks();
});

describe('DKIM signer', () => {
  it('signs with one time even when the clock passes a second boundary mid-signature', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mailway-dkim-'));
    try {
      const keyFile = join(dir, 'key.pem');
      await writeFile(keyFile, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
      const signer = await createDkimSigner({ domains: ['example.org'], selector: 's1', keyFile });
      // Each reading of the clock is a second after the last, as on a loaded machine at the wrong moment.
      let now = Date.UTC(2026, 11, 7, 9, 0, 0);
      vi.spyOn(Date, 'now').mockImplementation(() => (now += 1000));
      const signature = await signer!.sign(message, 'example.org');
      vi.restoreAllMocks();

      const result = await dkimVerify(Buffer.concat([Buffer.from(signature), message]), { resolver });
      expect(result.results[0]?.status).toMatchObject({ result: 'pass' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
