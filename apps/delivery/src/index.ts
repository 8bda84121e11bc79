/**
 * @module @mailway/delivery
 *
 * The delivery agent as a library: its factory and configuration, for tests, for the
 * `mailway` CLI's documentation of settings, and for embedding.
 */
export { createDeliveryAgent, type DeliveryAgent } from './agent.js';
export { loadDeliveryConfig, deliveryConfigSchema, type DeliveryConfig } from './config.js';
