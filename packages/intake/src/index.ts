/**
 * @module @mailway/intake
 *
 * Mailway's one way in. Every message enters the queue here: a transaction at end of data
 * (submission, the relay's port 25) through `queueIntake`, which reads the header block,
 * refuses loops, lets the agent add its own policy and fields, and hands the message off
 * (spool, then the transfer job, or the delivery job when its one recipient is local) before it
 * answers 250; the routing (local or remote) the relay's transfer worker shares; LMTP, which delivers at once, shares
 * the arrival, the envelope and the outcome table; a notice Mailway writes itself goes in
 * through `@mailway/intake/notices` and `handOffOnce`.
 */
export { type Arrival, maxHeaderBytes, readArrival } from './arrival.js';
export { envelopeOf, originOf, recipientsOf } from './envelope.js';
export { type InflowGate, type InflowOptions, createInflowGate, inflowGate, openGate } from './flow.js';
export { type Handoff, type HandoffTargets, type LocalTargets, handOff, handOffOnce } from './handoff.js';
export { type IntakeFailure, type IntakeOutcome, intakeFailureOf, intakeOutcomes, queuedReply } from './outcome.js';
export { type Incoming, type IntakeLogger, type IntakeMetrics, type IntakePolicy, type Prepared, type QueueIntakeOptions, headerThenRest, queueIntake, readWhole } from './queue-intake.js';
export { type TraceFacts, protocolOf, receivedFor } from './received.js';
export { type Routes, isAddressLiteral, routeRecipients, routingDomain } from './route.js';
