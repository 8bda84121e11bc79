import { describe, it, expect } from 'vitest';
import { hashPassword, isPasswordHash, verifyPassword } from './password.js';

describe('hashPassword / verifyPassword', () => {
  it('encodes scrypt with its parameters, a 16-byte salt and a 32-byte key', async () => {
    const encoded = await hashPassword('correct horse');
    const m = /^\$scrypt\$ln=14,r=8,p=1\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(encoded);
    expect(m).not.toBeNull();
    expect(Buffer.from(m![1]!, 'base64')).toHaveLength(16);
    expect(Buffer.from(m![2]!, 'base64')).toHaveLength(32);
    expect(encoded).not.toContain('correct horse');
  });

  it('verifies the right password and rejects a wrong one', async () => {
    const encoded = await hashPassword('correct horse');
    expect(await verifyPassword('correct horse', encoded)).toBe(true);
    expect(await verifyPassword('correct horsE', encoded)).toBe(false);
    expect(await verifyPassword('', encoded)).toBe(false);
  });

  it('salts: two hashes of one password differ, and both verify', async () => {
    const [a, b] = await Promise.all([hashPassword('same'), hashPassword('same')]);
    expect(a).not.toBe(b);
    expect(await verifyPassword('same', a)).toBe(true);
    expect(await verifyPassword('same', b)).toBe(true);
  });

  it('treats composed and decomposed Unicode as one password', async () => {
    const encoded = await hashPassword('caf\u00e9');
    expect(await verifyPassword('cafe\u0301', encoded)).toBe(true);
  });

  it('reads hashes written with other parameters', async () => {
    // Lower the cost in a real hash's text: it must now fail, because the key was derived at ln=14.
    const encoded = await hashPassword('pw');
    expect(await verifyPassword('pw', encoded.replace('ln=14', 'ln=13'))).toBe(false);
    expect(isPasswordHash(encoded.replace('ln=14', 'ln=13'))).toBe(true);
  });

  const malformed = [
    '',
    'plaintext',
    '$2b$10$abcdefghijklmnopqrstuv', // bcrypt: unknown scheme
    '$scrypt$ln=14,r=8,p=1$c2FsdHNhbHRzYWx0$',
    '$scrypt$ln=14,r=8,p=1$$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5',
    '$scrypt$ln=14,r=8,p=1$c2FsdHNhbHRzYWx0$not*base64',
    '$scrypt$ln=0,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5',
    '$scrypt$ln=30,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5', // 128 GiB of memory
    '$scrypt$ln=14,r=8$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5',
  ];
  it.each(malformed)('answers false, never throws, for %j', async (encoded) => {
    expect(isPasswordHash(encoded)).toBe(false);
    await expect(verifyPassword('pw', encoded)).resolves.toBe(false);
  });
});
