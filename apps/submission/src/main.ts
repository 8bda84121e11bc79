#!/usr/bin/env node
/**
 * Mail Submission Agent (RFC 6409). Accepts mail from authenticated MUAs on 587/465, spools
 * it, enqueues a transfer job. Never delivers mail itself.
 *
 * Configuration comes from the environment (and MAILWAY_CONFIG, a JSON file); see config.ts.
 */
import { runAgentMain } from '@mailway/agent';
import { createSubmissionAgent } from './agent.js';
import { loadSubmissionConfig } from './config.js';

await runAgentMain('submission', () => loadSubmissionConfig(), createSubmissionAgent);
