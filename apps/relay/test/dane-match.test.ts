/**
 * DANE certificate matching (RFC 7672 §3.1, RFC 6698 §2.1) with real certificates from a
 * private CA and self-signed ones: one test per rule.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from 'selfsigned';
import { type Tlsa, matchChain, usable } from '../src/outbound/security/dane-match.js';
import { type TestCa, createTestCa } from './support/test-ca.js';

const der = (pem: string): Buffer => new X509Certificate(pem).raw;
const spki = (pem: string): Buffer => new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();
const sha512 = (data: Buffer): Buffer => createHash('sha512').update(data).digest();
const tlsa = (usage: number, selector: number, matchingType: number, data: Buffer): Tlsa => ({ usage, selector, matchingType, data });

let ca: TestCa;
let other: TestCa;
let leaf: { key: string; cert: string };
let forged: { key: string; cert: string };
let expired: { key: string; cert: string };
let selfSigned: string;
beforeAll(async () => {
  [ca, other] = await Promise.all([createTestCa(), createTestCa('Another CA')]);
  leaf = await ca.issue(['mx.example.test']);
  // Issued by another CA under the same name: a chain that shows `ca`'s certificate but is not signed by it.
  forged = await other.issue(['mx.example.test']);
  expired = await ca.issue(['mx.example.test'], { from: new Date(Date.now() - 3 * 86_400_000), to: new Date(Date.now() - 86_400_000) });
  const now = Date.now();
  selfSigned = (await generate([{ name: 'commonName', value: 'unrelated.example' }], { keyType: 'ec', algorithm: 'sha256', notBeforeDate: new Date(now - 3 * 86_400_000), notAfterDate: new Date(now - 86_400_000) })).cert;
});
afterAll(() => {
  ca?.remove();
  other?.remove();
});

describe('DANE-EE (usage 3)', () => {
  it('matches the server certificate’s public key (selector 1), by SHA-256 and SHA-512, ignoring name and dates', () => {
    expect(matchChain([tlsa(3, 1, 1, sha256(spki(selfSigned)))], [der(selfSigned)], 'mx.example.test')).toMatchObject({ ok: true });
    expect(matchChain([tlsa(3, 1, 2, sha512(spki(selfSigned)))], [der(selfSigned)], 'mx.example.test')).toMatchObject({ ok: true });
  });

  it('matches the whole certificate (selector 0), hashed or in full (matching type 0)', () => {
    expect(matchChain([tlsa(3, 0, 1, sha256(der(selfSigned)))], [der(selfSigned)], 'mx.example.test')).toMatchObject({ ok: true });
    expect(matchChain([tlsa(3, 0, 0, der(selfSigned))], [der(selfSigned)], 'mx.example.test')).toMatchObject({ ok: true });
  });

  it('does not match another key', () => {
    expect(matchChain([tlsa(3, 1, 1, sha256(spki(leaf.cert)))], [der(selfSigned)], 'mx.example.test')).toMatchObject({ ok: false, reason: expect.stringContaining('DANE-EE') });
  });

  it('matches only the server’s own certificate, not an issuer in the chain', () => {
    expect(matchChain([tlsa(3, 0, 1, sha256(der(ca.cert)))], [der(leaf.cert), der(ca.cert)], 'mx.example.test')).toMatchObject({ ok: false });
  });
});

describe('DANE-TA (usage 2)', () => {
  it('matches an issuer in the chain the server certificate is signed by, for the MX host name', () => {
    expect(matchChain([tlsa(2, 0, 1, sha256(der(ca.cert)))], [der(leaf.cert), der(ca.cert)], 'mx.example.test')).toMatchObject({ ok: true });
    expect(matchChain([tlsa(2, 1, 1, sha256(spki(ca.cert)))], [der(leaf.cert), der(ca.cert)], 'mx.example.test')).toMatchObject({ ok: true });
  });

  it('needs the server certificate to name the MX host', () => {
    expect(matchChain([tlsa(2, 0, 1, sha256(der(ca.cert)))], [der(leaf.cert), der(ca.cert)], 'mx2.example.test')).toMatchObject({ ok: false, reason: expect.stringContaining('does not name mx2.example.test') });
  });

  it('needs the server certificate within its dates', () => {
    expect(matchChain([tlsa(2, 0, 1, sha256(der(ca.cert)))], [der(expired.cert), der(ca.cert)], 'mx.example.test')).toMatchObject({ ok: false, reason: expect.stringContaining('not valid now') });
  });

  it('needs the trust anchor in the chain the server sent', () => {
    expect(matchChain([tlsa(2, 0, 1, sha256(der(ca.cert)))], [der(leaf.cert)], 'mx.example.test')).toMatchObject({ ok: false, reason: expect.stringContaining('no certificate in the chain') });
  });

  it('refuses a chain that shows the anchor without being signed by it', () => {
    expect(matchChain([tlsa(2, 0, 1, sha256(der(ca.cert)))], [der(forged.cert), der(ca.cert)], 'mx.example.test')).toMatchObject({ ok: false, reason: expect.stringContaining('not signed') });
  });
});

describe('usable records (RFC 7672 §3.1.3)', () => {
  it('PKIX-TA (0) and PKIX-EE (1), unknown selectors and matching types are not usable for SMTP', () => {
    const hash = sha256(spki(selfSigned));
    expect([tlsa(0, 1, 1, hash), tlsa(1, 1, 1, hash), tlsa(3, 2, 1, hash), tlsa(3, 1, 3, hash), tlsa(3, 1, 1, hash)].map(usable)).toEqual([false, false, false, false, true]);
    expect(matchChain([tlsa(1, 1, 1, hash)], [der(selfSigned)], 'mx.example.test')).toMatchObject({ ok: false, reason: expect.stringContaining('no usable TLSA record') });
  });
});
