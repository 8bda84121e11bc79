/**
 * DKIM signing: a message from a signing domain leaves the agent with a DKIM-Signature that
 * mailauth's verifier accepts against the published key; mail from other domains is unsigned.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dialog } from '@mailway/testing/dialog';
import { type Harness, alice, message, startSubmission } from './support/harness.js';

let h: Harness;
let dir: string;
let publicKey: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailway-dkim-'));
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  publicKey = pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const keyFile = join(dir, 'dkim.pem');
  await writeFile(keyFile, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  h = await startSubmission({ env: { SUBMISSION_DKIM_DOMAINS: 'example.org', SUBMISSION_DKIM_SELECTOR: 'mw2026', SUBMISSION_DKIM_KEY_FILE: keyFile } });
  await h.agent.directory.addDomain('other.example');
  await h.agent.directory.addSendAs(alice.user, '@other.example');
});
afterAll(async () => {
  await h.close();
  await rm(dir, { recursive: true, force: true });
});

/** Submit `raw` as alice and return the stored message. */
async function submit(raw: string, from: string = alice.user): Promise<Buffer> {
  const { dialog } = await Dialog.open(h.agent.ports.implicitTls, { tls: true });
  await dialog.command('EHLO client.example');
  await dialog.authPlain(alice.user, alice.pass);
  await dialog.command(`MAIL FROM:<${from}>`);
  await dialog.command('RCPT TO:<carol@remote.example>');
  const reply = await dialog.data(raw);
  await dialog.close();
  const queueId = /queued as (\S+)/.exec(reply.text)?.[1];
  if (!queueId) throw new Error(`not queued: ${reply.status} ${reply.text}`);
  return h.spool.readAll(queueId);
}

describe('DKIM', () => {
  it('signs mail from a signing domain, and the signature verifies', async () => {
    const stored = await submit(message({ subject: 'signed', body: 'Signed body.\r\n' }));
    expect(stored.toString('latin1')).toMatch(/^DKIM-Signature: /);
    const resolver = async (name: string, type: string): Promise<string[][]> => {
      if (name === 'mw2026._domainkey.example.org' && type === 'TXT') return [[`v=DKIM1; k=rsa; p=${publicKey}`]];
      throw Object.assign(new Error(`no ${type} for ${name}`), { code: 'ENOTFOUND' });
    };
    const result = await dkimVerify(stored, { resolver });
    expect(result.results).toHaveLength(1);
    expect(result.results[0]?.status.result).toBe('pass');
    expect(result.results[0]?.signingDomain).toBe('example.org');
  });

  it('leaves mail from other domains unsigned', async () => {
    const stored = await submit(message({ from: 'alice@other.example' }), 'alice@other.example');
    expect(stored.toString('latin1')).not.toContain('DKIM-Signature');
  });
});
