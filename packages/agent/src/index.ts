/**
 * @module @mailway/agent
 *
 * What Mailway's three agents (submission, relay, delivery) share above the data packages: the
 * agent skeleton (Redis connections, watched; the spool; the 421/451 gate in front of the
 * hooks; readiness; release). Its configuration fragment is `@mailway/agent/config`, the SMTP
 * AUTH hook and failed-login limits `@mailway/agent/smtp-auth`.
 */
export { type AgentSkeleton, type AgentSkeletonOptions, type QueueWorker, type WorkerAgentSkeleton, createAgentSkeleton, ownDescriptors, portOf, seedDirectory, spoolDescriptors } from './skeleton.js';
export { type ProcessSettings, runAgentMain } from './main.js';
