/**
 * @module @mailway/queue/admin
 *
 * Queue inspection for operators (`mailway queue …`, an admin API): queued messages by queue
 * id, each recipient's state and latest attempt, a qshape-like summary of deferred mail, and
 * promotion of deferred outbound jobs. Reads the queues this package defines, with its schemas.
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
} from './inspect.js';
