/**
 * @module @mailway/queue/trace
 *
 * Each message's path through Mailway, event by event (accepted, routed, each attempt,
 * delivered, deferred, failed, expanded, notices, operator actions), in a capped, expiring
 * Redis list per queue id that every agent appends to cheaply (`mailway trace`, the dashboard).
 */
export { TraceEvent, type TraceEventInput, type TraceEventType, traceEventTypes } from './events.js';
export { type TraceEntry, type TraceLog, type TraceLogOptions, createTraceLog, traceKey } from './log.js';
