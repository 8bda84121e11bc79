/**
 * @module @mailway/directory
 *
 * The mail directory: local domains, users and their password hashes, the addresses each
 * user may send as, aliases and catch-alls. Stored in Redis so that every agent on every host
 * sees the same directory; seedable from a JSON file.
 *
 *   const directory = createDirectory(redis);
 *   await directory.authenticate('alice@example.org', password);   // submission, AUTH
 *   await directory.mayUseAddress(user.address, mailFrom);         // submission, MAIL FROM
 *   await directory.resolve(rcptTo);                                // relay and delivery, RCPT
 */
export { DirectoryError } from './errors.js';
export { hashPassword, verifyPassword, isPasswordHash } from './password.js';
export { normalizeAddress, normalizeDomain } from './address.js';
export { type DirectoryKeys, directoryKeys } from './keys.js';
export { type Resolution } from './resolve.js';
export { type User, type UserRecord, type Directory, type DirectoryOptions, createDirectory } from './directory.js';
export { DirectorySeed, applySeed, readSeedFile } from './seed.js';
