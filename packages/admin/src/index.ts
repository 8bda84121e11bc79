/**
 * @module @mailway/admin
 *
 * The operator's side of Mailway beyond reading the queues: returning a queued message to its
 * sender (`bounceMessage`), and the admin HTTP API with its web dashboard (`startAdminServer`,
 * `createAdminApp`), configured by `adminSettings`.
 */
export { type BounceContext, type BounceResult, bounceMessage, bounceStatus } from './bounce.js';
export { type AdminSettings, adminSettings, minTokenLength } from './config.js';
export { type AdminAppOptions, type AdminLogger, createAdminApp } from './http/app.js';
export { type AdminServer, type AdminServerOptions, startAdminServer } from './http/server.js';
