/**
 * @module @mailway/relay
 *
 * The relay agent as a library: its factory and configuration, the transfer worker, for
 * tests, for the `mailway` CLI's documentation of settings, and for embedding.
 */
export { createRelayAgent, type RelayAgent, type RelayAgentOptions } from './agent.js';
export { loadRelayConfig, relayConfigSchema, type RelayConfig } from './config.js';
export { type DnsResolver } from './policy/authentication/resolver.js';
export { createTransferWorker, transferProcessor, type TransferTargets, type TransferWorkerOptions } from './transfer/worker.js';
