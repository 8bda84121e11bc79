/**
 * @module @mailway/queue/admin
 *
 * Queue inspection for operators (`mailway queue …`, an admin API): queued messages by queue
 * id, each recipient's state and latest attempt, a qshape-like summary of deferred mail, and
 * promotion of deferred outbound jobs, holding and releasing a message, and deleting one with
 * its spool references. Reads the queues this package defines, with its schemas.
 */
export {
  createQueueAdmin,
  recipientStates,
  ageBuckets,
  type QueueAdmin,
  type RecipientState,
  type AgeBucket,
  type QueuedRecipient,
  type QueuedMessage,
  type MessageJob,
  type MessageDetail,
  type QueueFilter,
  type QueueSummary,
  type RetryResult,
  type ActedJob,
  type ActionResult,
  holdMs,
} from './inspect.js';
