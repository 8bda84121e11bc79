/**
 * @module @mailway/mailbox
 *
 * Mailboxes on disk: a Maildir writer (tmp → new, fsynced, Maildir++ folders) and an mbox
 * writer (mboxrd, dot-locked), both storing each delivery exactly once per key even when a
 * writer is killed mid-way; mailbox paths and usage for quotas. Pure node:fs, no Redis.
 */
export { type MailboxStore, type MailboxFormat, type DeliveryRecord, type DeliveryResult, QuotaExceededError, MailboxLockedError } from './store.js';
export { createMaildir, type MaildirOptions } from './maildir/maildir.js';
export { createMbox, type MboxOptions } from './mbox/mbox.js';
export { mailboxPath } from './path.js';
export { mailboxUsage } from './usage.js';
