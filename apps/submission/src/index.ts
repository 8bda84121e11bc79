/**
 * @module @mailway/submission
 *
 * The submission agent as a library: its factory and configuration, for tests, for the
 * `mailway` CLI's documentation of settings, and for embedding.
 */
export { createSubmissionAgent, type SubmissionAgent } from './agent.js';
export { loadSubmissionConfig, submissionConfigSchema, type SubmissionConfig } from './config.js';
