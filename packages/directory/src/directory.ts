/**
 * The directory: local domains, users with their password hashes and send-as addresses,
 * aliases and catch-alls, kept in Redis (layout in keys.ts) so every agent on every host sees
 * the same data at once.
 *
 * Reads and writes only its own keys. Refusals (bad address, unknown user, domain not local,
 * domain still in use) are DirectoryErrors whose message is meant for the administrator.
 */
import type { Redis } from 'ioredis';
import { normalizeAddress, normalizeDomain, normalizeSendAs, splitAddress } from './address.js';
import { findAliasCycle } from './alias-cycle.js';
import type { DirectoryContext } from './context.js';
import { DirectoryError } from './errors.js';
import { directoryKeys } from './keys.js';
import { hashPassword, isPasswordHash, verifyPassword } from './password.js';
import { resolveRecipient, type Resolution } from './resolve.js';
import { mayUseAddress } from './sender.js';
import {
  execAll,
  parseList,
  parseQuota,
  putAliasScript,
  putUserScript,
  removeDomainScript,
  runScript,
  setCatchAllScript,
  updateUserScript,
} from './store.js';

/** A mailbox owner, as the directory reports it (the password hash never leaves it). */
export interface User {
  /** Canonical `local@domain`, lowercase. */
  readonly address: string;
  /** Further addresses, or `@domain` wildcards, the user may send as. */
  readonly sendAs: readonly string[];
  readonly quotaBytes: number | null;
  readonly createdAt: Date;
}

/** What putUser writes: a user with a ready-made password hash, as seed files carry them. */
export interface UserRecord {
  /** Encoded hash (password.ts); omitted, an existing user keeps its password. */
  readonly passwordHash?: string;
  readonly sendAs?: readonly string[];
  readonly quotaBytes?: number | null;
}

export interface Directory {
  /** Make a domain local (no-op when it already is). */
  addDomain(domain: string): Promise<void>;
  /** Stop treating a domain as local, with its catch-all; refused while users or aliases remain in it. */
  removeDomain(domain: string): Promise<void>;
  listDomains(): Promise<string[]>;
  isLocalDomain(domain: string): Promise<boolean>;
  /** Create a user in a local domain; refused when the address is already a user or an alias. */
  addUser(address: string, password: string, options?: { sendAs?: string[]; quotaBytes?: number | null }): Promise<User>;
  /** Create or update a user from a password hash, keeping createdAt (and, without a hash, the password) of an existing one. */
  putUser(address: string, record: UserRecord): Promise<User>;
  setPassword(address: string, password: string): Promise<void>;
  removeUser(address: string): Promise<void>;
  getUser(address: string): Promise<User | null>;
  /** The users of one domain, or of all local domains, by address. */
  listUsers(domain?: string): Promise<User[]>;
  /** Check a login. Takes the same time whether or not the user exists (verifies against a fixed dummy hash
   *  when unknown). Username = full address, case-insensitive. */
  authenticate(username: string, password: string): Promise<User | null>;
  /** Add a send-as address or `@domain` wildcard (no-op when listed). */
  addSendAs(address: string, sendAs: string): Promise<void>;
  /** Remove a send-as entry (no-op when not listed). */
  removeSendAs(address: string, sendAs: string): Promise<void>;
  /** May `user` use `address` as envelope sender / From? Own address; own sub-addresses (local+tag@domain);
   *  listed sendAs addresses; '@domain' wildcard entries; aliases whose targets include the user. */
  mayUseAddress(user: string, address: string): Promise<boolean>;
  /** Create or replace an alias; the source must be in a local domain and not a user, targets may be anywhere. */
  addAlias(source: string, targets: readonly string[]): Promise<void>;
  removeAlias(source: string): Promise<void>;
  /** The path by which `source → targets` would bring mail for `source` back to it (`[a, b, a]`), or null. */
  findAliasCycle(source: string, targets: readonly string[]): Promise<string[] | null>;
  listAliases(): Promise<{ source: string; targets: string[] }[]>;
  /** Send a local domain's otherwise unknown recipients to `target`; null removes the catch-all. */
  setCatchAll(domain: string, target: string | null): Promise<void>;
  /** Route a recipient: exact user → user; exact alias → alias; sub-address local+tag stripped → user
   *  (folder = tag) or alias; domain catch-all → alias [target]; else unknown / remote. */
  resolve(address: string): Promise<Resolution>;
}

export interface DirectoryOptions {
  /** Key prefix, default 'mailway:'. */
  readonly prefix?: string;
  /** Sub-address separator, default '+'. */
  readonly subaddressSeparator?: string;
  /** Password check, default verifyPassword; replaceable so tests can observe the calls. */
  readonly verifyPassword?: (password: string, encoded: string) => Promise<boolean>;
}

// Checked when a login names no user, so that the answer takes as long as for a real one.
// The password behind it was random and has been thrown away.
const dummyHash = '$scrypt$ln=14,r=8,p=1$tW/P0OEVbatPgZuxV9HDQg$n4s2gYCgziWTdtV0kQ/jJWRtCcSzw2jBkUpBXxA53a8';

// How often a send-as change is retried when another writer changed the list meanwhile.
const maxAttempts = 5;

/** A directory over `redis`. */
export function createDirectory(redis: Redis, options: DirectoryOptions = {}): Directory {
  const separator = options.subaddressSeparator ?? '+';
  if (separator === '' || /[@\s]/.test(separator)) throw new DirectoryError(`bad sub-address separator: ${JSON.stringify(separator)}`);
  const keys = directoryKeys(options.prefix ?? 'mailway:');
  const ctx: DirectoryContext = { redis, keys, separator };
  const verify = options.verifyPassword ?? verifyPassword;

  /** The stored user and hash, or null. */
  async function readUser(address: string): Promise<{ user: User; hash: string } | null> {
    return toUser(address, await redis.hgetall(keys.user(address)));
  }

  /** Write a user through the put-user script, turning its verdict into an error. */
  async function writeUser(address: string, hash: () => Promise<string>, record: Omit<UserRecord, 'passwordHash'>, mode: 'create' | 'upsert') {
    // Validate everything before the costly hash.
    const { domain } = splitAddress(address);
    const sendAs = JSON.stringify([...new Set((record.sendAs ?? []).map(normalizeSendAs))]);
    const quota = checkQuota(record.quotaBytes ?? null);
    const verdict = await runScript(
      redis,
      putUserScript,
      [keys.domains, keys.user(address), keys.users(domain), keys.alias(address)],
      [domain, address, await hash(), sendAs, quota, Date.now(), mode],
    );
    refuse(verdict, {
      'no-domain': `${domain} is not a local domain`,
      'is-alias': `${address} is an alias`,
      exists: `user ${address} exists`,
      'no-hash': `new user ${address} needs a password`,
    });
    const stored = await readUser(address);
    if (!stored) throw new DirectoryError(`user ${address} was removed meanwhile`);
    return stored.user;
  }

  /** Set fields of an existing user, unless `expect` says a field changed meanwhile; false on that conflict. */
  async function updateUser(address: string, fields: Record<string, string>, expect?: { field: string; value: string }) {
    const pairs = Object.entries(fields).flat();
    const verdict = await runScript(redis, updateUserScript, [keys.user(address)], [expect?.field ?? '', expect?.value ?? '', ...pairs]);
    refuse(verdict, { 'no-user': `no user ${address}` });
    return verdict === 'ok';
  }

  /** Rewrite a user's send-as list with `change`, retrying when another writer got there first. */
  async function changeSendAs(user: string, change: (entries: string[]) => string[]) {
    const address = normalizeAddress(user);
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const current = await redis.hget(keys.user(address), 'sendAs');
      if (current === null) throw new DirectoryError(`no user ${address}`);
      const next = JSON.stringify([...new Set(change(parseList(current)))]);
      if (await updateUser(address, { sendAs: next }, { field: 'sendAs', value: current })) return;
    }
    throw new DirectoryError(`send-as list of ${address} keeps changing; try again`);
  }

  return {
    async addDomain(domain) {
      await redis.sadd(keys.domains, normalizeDomain(domain));
    },

    async removeDomain(text) {
      const domain = normalizeDomain(text);
      const verdict = await runScript(redis, removeDomainScript, [keys.domains, keys.users(domain), keys.aliases, keys.catchAll], [domain]);
      refuse(verdict, {
        'no-domain': `${domain} is not a local domain`,
        'has-users': `${domain} still has users`,
        'has-aliases': `${domain} still has aliases`,
      });
    },

    async listDomains() {
      return (await redis.smembers(keys.domains)).sort();
    },

    async isLocalDomain(domain) {
      return (await redis.sismember(keys.domains, normalizeDomain(domain))) === 1;
    },

    async addUser(text, password, options = {}) {
      const address = normalizeAddress(text);
      checkPassword(password);
      return writeUser(address, () => hashPassword(password), options, 'create');
    },

    async putUser(text, record) {
      const address = normalizeAddress(text);
      const hash = record.passwordHash ?? '';
      if (hash !== '' && !isPasswordHash(hash)) throw new DirectoryError(`not a supported password hash for ${address}`);
      return writeUser(address, async () => hash, record, 'upsert');
    },

    async setPassword(text, password) {
      const address = normalizeAddress(text);
      checkPassword(password);
      await updateUser(address, { hash: await hashPassword(password) });
    },

    async removeUser(text) {
      const address = normalizeAddress(text);
      const { domain } = splitAddress(address);
      const [deleted] = await execAll(redis.multi().del(keys.user(address)).srem(keys.users(domain), address));
      if (deleted !== 1) throw new DirectoryError(`no user ${address}`);
    },

    async getUser(text) {
      return (await readUser(normalizeAddress(text)))?.user ?? null;
    },

    async listUsers(domain) {
      const domains = domain === undefined ? await redis.smembers(keys.domains) : [normalizeDomain(domain)];
      const addresses = (await Promise.all(domains.map((d) => redis.smembers(keys.users(d))))).flat().sort();
      if (addresses.length === 0) return [];
      const records = await execAll(addresses.reduce((multi, a) => multi.hgetall(keys.user(a)), redis.multi()));
      return addresses.flatMap((a, i) => toUser(a, records[i] as Record<string, string>)?.user ?? []);
    },

    async authenticate(username, password) {
      let stored: { user: User; hash: string } | null = null;
      try {
        stored = await readUser(normalizeAddress(username));
      } catch (error) {
        if (!(error instanceof DirectoryError)) throw error;
      }
      // An unknown user costs one hash check too, so the time taken does not tell who exists.
      const ok = await verify(password, stored?.hash ?? dummyHash);
      return ok && stored ? stored.user : null;
    },

    async addSendAs(address, sendAs) {
      const entry = normalizeSendAs(sendAs);
      await changeSendAs(address, (entries) => [...entries, entry]);
    },

    async removeSendAs(address, sendAs) {
      const entry = normalizeSendAs(sendAs);
      await changeSendAs(address, (entries) => entries.filter((e) => e !== entry));
    },

    mayUseAddress(user, address) {
      return mayUseAddress(ctx, user, address);
    },

    async addAlias(text, targets) {
      const source = normalizeAddress(text);
      const { domain } = splitAddress(source);
      const list = [...new Set(targets.map(normalizeAddress))];
      if (list.length === 0) throw new DirectoryError(`alias ${source} needs at least one target`);
      const verdict = await runScript(
        redis,
        putAliasScript,
        [keys.domains, keys.alias(source), keys.aliases, keys.user(source)],
        [domain, source, JSON.stringify(list)],
      );
      refuse(verdict, { 'no-domain': `${domain} is not a local domain`, 'is-user': `${source} is a user` });
    },

    async removeAlias(text) {
      const source = normalizeAddress(text);
      const [deleted] = await execAll(redis.multi().del(keys.alias(source)).srem(keys.aliases, source));
      if (deleted !== 1) throw new DirectoryError(`no alias ${source}`);
    },

    findAliasCycle(source, targets) {
      return findAliasCycle(ctx, source, targets);
    },

    async listAliases() {
      const sources = (await redis.smembers(keys.aliases)).sort();
      if (sources.length === 0) return [];
      const values = await redis.mget(sources.map((s) => keys.alias(s)));
      return sources.map((source, i) => ({ source, targets: parseList(values[i]) }));
    },

    async setCatchAll(text, target) {
      const domain = normalizeDomain(text);
      if (target === null) {
        await redis.hdel(keys.catchAll, domain);
        return;
      }
      const verdict = await runScript(redis, setCatchAllScript, [keys.domains, keys.catchAll], [domain, normalizeAddress(target)]);
      refuse(verdict, { 'no-domain': `${domain} is not a local domain` });
    },

    resolve(address) {
      return resolveRecipient(ctx, address);
    },
  };
}

/** The user in a stored hash (empty when there is none), or null. */
function toUser(address: string, fields: Record<string, string>): { user: User; hash: string } | null {
  if (fields.hash === undefined) return null;
  const user: User = {
    address,
    sendAs: parseList(fields.sendAs),
    quotaBytes: parseQuota(fields.quota),
    createdAt: new Date(Number(fields.createdAt ?? 0)),
  };
  return { user, hash: fields.hash };
}

/** Throw the message for a script's refusal; 'ok' and 'conflict' pass. */
function refuse(verdict: string, messages: Record<string, string>): void {
  const message = messages[verdict];
  if (message !== undefined) throw new DirectoryError(message);
  if (verdict !== 'ok' && verdict !== 'conflict') throw new Error(`unexpected directory script reply: ${verdict}`);
}

/** Refuse a password the directory does not accept. */
function checkPassword(password: string): void {
  if (password === '') throw new DirectoryError('empty password');
}

/** The quota as stored ('' for none), when it is a whole number of bytes. */
function checkQuota(bytes: number | null): string {
  if (bytes === null) return '';
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new DirectoryError(`bad quota: ${bytes} (whole bytes, or null for none)`);
  return String(bytes);
}
