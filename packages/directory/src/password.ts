/**
 * Password hashing: scrypt through node:crypto, which runs on the libuv thread pool and so
 * never blocks the event loop.
 *
 * Emits self-describing strings, so the cost can be raised later without breaking old hashes:
 *
 *   $scrypt$ln=14,r=8,p=1$<base64 salt, 16 bytes>$<base64 key, 32 bytes>
 *
 * (ln = log2 of the CPU/memory cost N). Reads the same format, with any parameters inside the
 * bounds below, so a seeded hash cannot make a login allocate unbounded memory.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const defaults = { ln: 14, r: 8, p: 1 } as const;
const saltBytes = 16;
const keyBytes = 32;

// Bounds for parameters read back from a stored hash.
const maxMemoryBytes = 64 * 1024 * 1024;
const base64 = /^[A-Za-z0-9+/]+={0,2}$/;
const encoded = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([^$]+)\$([^$]+)$/;

interface ScryptHash {
  readonly ln: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly key: Buffer;
}

/** Hash a password with fresh salt and the current parameters. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(saltBytes);
  const key = await derive(password, salt, keyBytes, defaults);
  const { ln, r, p } = defaults;
  return `$scrypt$ln=${ln},r=${r},p=${p}$${unpadded(salt)}$${unpadded(key)}`;
}

/** True when `password` matches `encoded`; false, never an exception, for a malformed hash. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const hash = parseHash(encoded);
  if (!hash) return false;
  try {
    const key = await derive(password, hash.salt, hash.key.length, hash);
    return timingSafeEqual(key, hash.key);
  } catch {
    return false;
  }
}

/** True when `encoded` is a hash that verifyPassword can check. */
export function isPasswordHash(encoded: string): boolean {
  return parseHash(encoded) !== null;
}

/** The parts of an encoded hash, or null when it is malformed or out of bounds. */
function parseHash(text: string): ScryptHash | null {
  const m = encoded.exec(text);
  if (!m) return null;
  const [, ln = '', r = '', p = '', saltText = '', keyText = ''] = m;
  const params = { ln: Number(ln), r: Number(r), p: Number(p) };
  if (params.ln < 1 || params.r < 1 || params.p < 1 || params.p > 16) return null;
  if (memoryFor(params) > maxMemoryBytes) return null;
  if (!base64.test(saltText) || !base64.test(keyText)) return null;
  const salt = Buffer.from(saltText, 'base64');
  const key = Buffer.from(keyText, 'base64');
  if (salt.length < 8 || key.length < 16 || key.length > 64) return null;
  return { ...params, salt, key };
}

/** scrypt's working memory for these parameters, in bytes. */
function memoryFor({ ln, r, p }: { ln: number; r: number; p: number }): number {
  return 128 * r * (2 ** ln + p + 2);
}

/** Derive `length` bytes with scrypt, asynchronously. */
function derive(password: string, salt: Buffer, length: number, params: { ln: number; r: number; p: number }) {
  const options: ScryptOptions = { N: 2 ** params.ln, r: params.r, p: params.p, maxmem: memoryFor(params) + 1024 * 1024 };
  return new Promise<Buffer>((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, length, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** Base64 without the trailing padding, as PHC-style strings write it. */
function unpadded(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '');
}
