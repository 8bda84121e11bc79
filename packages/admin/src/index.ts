/**
 * @module @mailway/admin
 *
 * The operator's side of Mailway beyond reading the queues: returning a queued message to its
 * sender (`bounceMessage`), and the admin API's settings (`adminSettings`). The HTTP API and
 * dashboard themselves are `@mailway/admin/http`, so that a command that only bounces does not
 * load a web server.
 */
export { type BounceContext, type BounceResult, bounceMessage, bounceStatus } from './bounce.js';
export { type AdminSettings, adminSettings, minTokenLength } from './config.js';
