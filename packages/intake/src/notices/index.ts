/**
 * @module @mailway/queue/notices
 *
 * Delivery status notifications (RFC 3464): writing one, and sending it to a message's sender
 * through the intake.
 */
export { buildDsn, type DsnAction, type DsnRecipient, type DsnReport } from './dsn.js';
export { sendNotice, noticeQueueId, notifyAfterExpansion, wantsNotice, type NoticeContext, type NoticeSubject } from './send.js';
