/**
 * Seed files: the directory as code. A JSON file lists domains, users, aliases and
 * catch-alls; applySeed writes it into the directory, so a deployment can keep its directory
 * in version control.
 *
 *   { "domains": ["example.org"],
 *     "users": [{ "address": "alice@example.org", "passwordHash": "$scrypt$…", "sendAs": ["@example.org"] }],
 *     "aliases": { "postmaster@example.org": ["alice@example.org"] },
 *     "catchAll": { "example.org": "alice@example.org" } }
 *
 * Each user carries exactly one of password (hashed on the way in) or passwordHash (see
 * password.ts; prefer it, so no plaintext sits in the file). Applying is idempotent: it adds
 * and updates, and removes nothing the file does not name.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { normalizeAddress, normalizeDomain, normalizeSendAs } from './address.js';
import type { Directory } from './directory.js';
import { DirectoryError } from './errors.js';
import { hashPassword, isPasswordHash } from './password.js';

/** A string that `normalize` accepts. */
function accepted(normalize: (text: string) => string, what: string) {
  return z.string().refine(
    (text) => {
      try {
        normalize(text);
        return true;
      } catch {
        return false;
      }
    },
    { message: `not ${what}` },
  );
}

const address = accepted(normalizeAddress, 'an address (local@domain)');
const domain = accepted(normalizeDomain, 'a domain name');

const SeedUser = z
  .strictObject({
    address,
    password: z.string().min(1).optional(),
    passwordHash: z.string().refine(isPasswordHash, { message: 'not a $scrypt$ password hash' }).optional(),
    sendAs: z.array(accepted(normalizeSendAs, 'an address or @domain')).optional(),
    quotaBytes: z.number().int().nonnegative().nullable().optional(),
  })
  .refine((u) => (u.password === undefined) !== (u.passwordHash === undefined), {
    message: 'give exactly one of password and passwordHash',
  });

export const DirectorySeed = z.strictObject({
  domains: z.array(domain),
  users: z.array(SeedUser),
  aliases: z.record(address, z.array(address).min(1)).optional(),
  catchAll: z.record(domain, address).optional(),
});
export type DirectorySeed = z.infer<typeof DirectorySeed>;

/** Write a seed into the directory: domains, then users, aliases and catch-alls. */
export async function applySeed(directory: Directory, seed: DirectorySeed): Promise<void> {
  for (const name of seed.domains) await directory.addDomain(name);
  for (const user of seed.users) {
    const passwordHash = user.passwordHash ?? (await newHash(directory, user.address, user.password ?? ''));
    await directory.putUser(user.address, { passwordHash, sendAs: user.sendAs ?? [], quotaBytes: user.quotaBytes ?? null });
  }
  for (const [source, targets] of Object.entries(seed.aliases ?? {})) await directory.addAlias(source, targets);
  for (const [name, target] of Object.entries(seed.catchAll ?? {})) await directory.setCatchAll(name, target);
}

/** Read and validate a seed file; the DirectoryError names the file and each bad key. */
export async function readSeedFile(path: string): Promise<DirectorySeed> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new DirectoryError(`cannot read directory seed ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new DirectoryError(`directory seed ${path} is not JSON: ${(error as Error).message}`);
  }
  const parsed = DirectorySeed.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${formatPath(issue.path)}: ${issue.message}`);
    throw new DirectoryError(`directory seed ${path} is invalid:\n${problems.join('\n')}`);
  }
  return parsed.data;
}

/** A hash of the seed's plaintext password, or undefined when the stored one already matches it (re-applying then changes nothing). */
async function newHash(directory: Directory, address: string, password: string): Promise<string | undefined> {
  if (await directory.authenticate(address, password)) return undefined;
  return hashPassword(password);
}

/** A key path as written in the file: `users[1].address`. */
function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path.map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i === 0 ? '' : '.'}${String(key)}`)).join('');
}
