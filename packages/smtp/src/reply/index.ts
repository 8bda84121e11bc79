/**
 * @module @mailway/smtp/reply
 *
 * Reply codes, enhanced status codes, the Reply value, its wire format and its parser.
 */
export { replyCodes, type ReplyCode, type EnhancedCode, type ReplyClass, Enhanced, isEnhancedCode, replyClass } from './codes.js';
export { type Reply, reply, isPositive, isIntermediate, isTransient, isPermanent, describeReply } from './reply.js';
export { formatReply } from './format.js';
export { ReplyParser, ReplyProtocolError, defaultReplyParserLimits } from './parse.js';
