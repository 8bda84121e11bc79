/**
 * @module @mailway/admin/http
 *
 * The admin HTTP API and its web dashboard (`createAdminApp`), and serving them
 * (`startAdminServer`).
 */
export { type AdminAppOptions, type AdminLogger, createAdminApp } from './app.js';
export { type AdminServer, type AdminServerOptions, startAdminServer } from './server.js';
