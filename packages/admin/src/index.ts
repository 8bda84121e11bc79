/**
 * @module @mailway/admin
 *
 * The operator's side of Mailway beyond reading the queues: returning a queued message to its
 * sender (`bounceMessage`).
 */
export { type BounceContext, type BounceResult, bounceMessage, bounceStatus } from './bounce.js';
