/**
 * Optional DKIM signing (RFC 6376) with mailauth, for mail whose From domain is one of the
 * configured signing domains. Signs the message as it will be queued (fix-ups included), so
 * the whole message is held in memory while it is signed.
 */
import { readFile } from 'node:fs/promises';

export interface DkimSettings {
  readonly domains: readonly string[];
  readonly selector: string;
  readonly keyFile?: string | undefined;
}

export interface DkimSigner {
  /** True when mail from this domain is signed. */
  signs(domain: string): boolean;
  /** The DKIM-Signature field(s), ending CRLF, for `message` signed as `domain`. */
  sign(message: Buffer, domain: string): Promise<string>;
}

/** A signer for the configured domains, or null when signing is off. Throws when the key cannot be read. */
export async function createDkimSigner(settings: DkimSettings): Promise<DkimSigner | null> {
  if (settings.domains.length === 0) return null;
  if (settings.keyFile === undefined) throw new Error('SUBMISSION_DKIM_DOMAINS is set but SUBMISSION_DKIM_KEY_FILE is not');
  const privateKey = await readFile(settings.keyFile, 'utf8');
  // Loaded only when signing is on: mailauth's signer is about 20 MiB of a running agent.
  const { dkimSign } = await import('mailauth/lib/dkim/sign.js');
  const domains = new Set(settings.domains.map((d) => d.toLowerCase()));

  return {
    signs: (domain) => domains.has(domain.toLowerCase()),
    async sign(message, domain) {
      // mailauth reads the signatures to make from signatureData; the top-level fields only name defaults.
      const signature = { signingDomain: domain.toLowerCase(), selector: settings.selector, privateKey, canonicalization: 'relaxed/relaxed' };
      // One signing time for both of mailauth's passes: without it, the t= tag is read from the
      // clock once for the hashed field and again for the emitted one, and a signature made
      // across a half-second boundary carries a t= it was not computed over (dkim=fail).
      const result = await dkimSign(message, { ...signature, signatureData: [signature], signTime: new Date() });
      const failure = result.errors[0] as { err?: Error } | Error | undefined;
      if (failure !== undefined) throw new Error(`DKIM signing failed for ${domain}: ${failure instanceof Error ? failure.message : (failure.err?.message ?? 'unknown error')}`);
      if (!result.signatures.startsWith('DKIM-Signature:')) throw new Error(`DKIM signing produced no signature for ${domain}`);
      return result.signatures;
    },
  };
}
