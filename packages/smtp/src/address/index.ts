/**
 * @module @mailway/smtp/address
 *
 * RFC 5321 paths and the ESMTP parameters of MAIL FROM and RCPT TO.
 *
 * A server reads a MAIL command in this order, because the SMTPUTF8 parameter decides how the
 * path may be written:
 *
 *   const { path, params } = splitPathAndParams(arg);
 *   const p = parseParams(params, { utf8: ext.smtputf8 });   // 501 5.5.4
 *   const mp = parseMailParams(p.value, ext);                // 555 / 501 / 552
 *   const from = parseReversePath(path, { smtputf8: mp.value.smtputf8 });
 *
 * (each step stopping at its first `{ ok: false, reply }`).
 *
 * RCPT does the same with parseRcptParams and parseForwardPath, passing the transaction's
 * SMTPUTF8 flag. Every parser returns either a value or the exact reply to send.
 */
export { type Parsed } from './result.js';
export { unmappedAddress, ipv6Groups, clientHost } from './ip.js';
export { type NetworkList, networkList } from './networks.js';
export { type AddressLiteral } from './domain.js';
export {
  type Address,
  type PathOptions,
  type SplitPath,
  splitPathAndParams,
  parseReversePath,
  parseForwardPath,
  formatAddress,
  formatPath,
  asciiDomain,
  addressKey,
} from './path.js';
export {
  type ParamValue,
  type Params,
  type ParamsOptions,
  type Extensions,
  type RcptExtensions,
  type Body,
  type Ret,
  type NotifyEvent,
  type MailParams,
  type OriginalRecipient,
  type RcptParams,
  parseParams,
  parseMailParams,
  parseRcptParams,
} from './params.js';
export { type XtextOptions, xtextDecode, xtextEncode, utf8AddrDecode, utf8AddrEncode } from './xtext.js';
