/**
 * @module @mailway/smtp/message
 *
 * Message helpers: the header block as bytes (split, read, stream, prepend), trace fields
 * (Received, Return-Path, Delivered-To), Message-ID / Date generation, and the removal of
 * Authentication-Results fields that claim this host. Bodies are never
 * decoded: every helper cuts or joins Buffers at byte offsets.
 */
export {
  headerBlockEnd,
  splitHeaderBlock,
  readHeaderFields,
  hasHeader,
  countHeader,
  readHeaderBlock,
  joinHeaderBlock,
  encodeFields,
  prependFields,
  HeaderTooLargeError,
  type HeaderSplit,
  type HeaderField,
  type ReadHeaderFieldsOptions,
  type ReadHeaderBlockOptions,
  type StreamedHeaderSplit,
} from './headers.js';
export { receivedField, returnPathField, deliveredToField, hopCount, withProtocols, type WithProtocol, type ReceivedInfo } from './trace.js';
export { generateMessageId, formatDate, type DateZone } from './ids.js';
export { removeAuthResults, authservIdOf } from './auth-results.js';
