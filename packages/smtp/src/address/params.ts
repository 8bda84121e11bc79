/**
 * ESMTP parameters of MAIL FROM and RCPT TO (RFC 5321 §4.1.2), and their meaning under the
 * extensions Mailway offers: SIZE (RFC 1870), 8BITMIME (RFC 6152), BINARYMIME (RFC 3030),
 * SMTPUTF8 (RFC 6531), DSN (RFC 3461, RFC 6533), AUTH (RFC 4954) and REQUIRETLS (RFC 8689).
 *
 * Reads the parameter string that `splitPathAndParams` leaves after the path, and a description
 * of the extensions offered in the EHLO reply. Emits typed MailParams / RcptParams, or the exact
 * reply for the first fault, taken in the order the client wrote the parameters.
 *
 * Replies, and why:
 *   501 5.5.4  a parameter that breaks the esmtp-param grammar, a duplicate, or a value its
 *              extension does not allow (RFC 3463 X.5.4 invalid command arguments; Postfix
 *              answers "501 5.5.4 Bad … parameter syntax").
 *   555 5.5.4  an unknown keyword, or one whose extension was not offered (RFC 5321 §4.1.1.11:
 *              "MAIL FROM/RCPT TO parameters not recognized or not implemented").
 *   552 5.3.4  SIZE above the fixed maximum (RFC 1870 §6).
 *
 * Separators: the grammar asks for one SP between parameters; runs of spaces, and trailing
 * spaces, are tolerated as Postfix does. Anything else (a tab, say) breaks the parameter.
 */
import { Enhanced } from '../reply/codes.js';
import { type Reply, reply } from '../reply/reply.js';
import { type Parsed, fail, ok } from './result.js';
import { utf8AddrDecode, xtextDecode } from './xtext.js';

/** A parameter value, or true for a keyword given without `=value`. */
export type ParamValue = string | true;

/** Parameters by upper-cased keyword, in the order written. */
export type Params = ReadonlyMap<string, ParamValue>;

export interface ParamsOptions {
  /** SMTPUTF8 is offered: values may carry UTF-8 (RFC 6531 §3.3, esmtp-value). */
  readonly utf8?: boolean;
}

/** The extensions offered in the EHLO reply, as the session knows them. */
export interface Extensions {
  /** SIZE: the fixed maximum in octets, 0 for no fixed maximum; null when SIZE is not offered. */
  readonly size: number | null;
  readonly eightBitMime: boolean;
  /** BINARYMIME, which is valid only together with CHUNKING: the caller folds both in here. */
  readonly binaryMime: boolean;
  readonly smtputf8: boolean;
  readonly dsn: boolean;
  readonly auth: boolean;
  readonly requireTls: boolean;
}

/** What RCPT TO needs of the extensions: DSN, and whether SMTPUTF8 is offered (RFC 6533 unitext). */
export interface RcptExtensions {
  readonly dsn: boolean;
  readonly smtputf8?: boolean;
}

export type Body = '7BIT' | '8BITMIME' | 'BINARYMIME';
export type Ret = 'FULL' | 'HDRS';
export type NotifyEvent = 'SUCCESS' | 'FAILURE' | 'DELAY';

export interface MailParams {
  /** Declared message size (RFC 1870), or null. */
  readonly size: number | null;
  readonly body: Body | null;
  readonly smtputf8: boolean;
  readonly ret: Ret | null;
  /** Envelope identifier, xtext-decoded. */
  readonly envid: string | null;
  /** AUTH= mailbox, xtext-decoded, or '<>'. Whether to trust it is policy. */
  readonly auth: string | null;
  readonly requireTls: boolean;
}

export interface OriginalRecipient {
  /** The address type, lower-cased: `rfc822`, `utf-8`, … */
  readonly type: string;
  /** The address, decoded from xtext (or from utf-8-addr-xtext / -unitext for `utf-8`). */
  readonly address: string;
}

export interface RcptParams {
  /** NOTIFY: 'NEVER', the events asked for in the order written, or null when absent. */
  readonly notify: null | 'NEVER' | readonly NotifyEvent[];
  readonly orcpt: OriginalRecipient | null;
}

type Draft<T> = { -readonly [K in keyof T]: T[K] };

/** How one parameter is recognised and read, given the extensions `E` offered. */
interface ParamSpec<T, E> {
  /** Whether the extension that defines the keyword was offered. */
  readonly offered: (ext: E) => boolean;
  /** Record the value, or answer why it is refused. */
  readonly apply: (value: ParamValue, into: Draft<T>, ext: E) => Reply | null;
}

// esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"); esmtp-value = 1*(%d33-60 / %d62-126).
const keywordSyntax = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
const valueSyntax = /^[\x21-\x3c\x3e-\x7e]+$/;
const valueSyntaxUtf8 = /^[\x21-\x3c\x3e-\x7e\u0080-\uffff]+$/;
const loneSurrogate = /\p{Cs}/u;
const sizeSyntax = /^\d{1,20}$/;
// addr-type is an atom (RFC 3461 §4.2).
const atom = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+$/;
const printableAscii = /^[\x20-\x7e]*$/;
const controls = /[\x00-\x1f\x7f]/;
const maxEnvidLength = 100;

const badSyntax = reply(501, Enhanced.invalidArguments, 'Bad parameter syntax');
const sizeExceeded = reply(552, Enhanced.messageTooBig, 'Message size exceeds fixed maximum message size');

/** 501 5.5.4 for a value its keyword does not allow. */
function badValue(keyword: string): Reply {
  return reply(501, Enhanced.invalidArguments, `Bad ${keyword} parameter syntax`);
}

/** 555 5.5.4 for a keyword not recognised, or whose extension is not offered. */
function notRecognized(keyword: string): Reply {
  return reply(555, Enhanced.invalidArguments, `${keyword} parameter not recognized or not implemented`);
}

const noParamsParsed: Parsed<Params> = ok(new Map<string, ParamValue>());

// What a command without parameters means, and what each parse starts from: shared (the values
// are read-only by type and frozen; a parse copies them into its draft).
const mailDefaults: MailParams = Object.freeze({ size: null, body: null, smtputf8: false, ret: null, envid: null, auth: null, requireTls: false });
const rcptDefaults: RcptParams = Object.freeze({ notify: null, orcpt: null });
const defaultMailParams: Parsed<MailParams> = ok(mailDefaults);
const defaultRcptParams: Parsed<RcptParams> = ok(rcptDefaults);

/** Parse `KEY[=value] KEY[=value] …` into a map keyed by upper-cased keyword. */
export function parseParams(text: string, options: ParamsOptions = {}): Parsed<Params> {
  // Most commands carry none: one shared empty map, read-only by type.
  if (text === '') return noParamsParsed;
  const params = new Map<string, ParamValue>();
  for (const word of text.split(' ')) {
    if (word === '') continue;
    const eq = word.indexOf('=');
    const keyword = eq < 0 ? word : word.slice(0, eq);
    const value: ParamValue = eq < 0 ? true : word.slice(eq + 1);

    // Sanity checks.
    if (!keywordSyntax.test(keyword)) return fail(badSyntax);
    if (value !== true && !(options.utf8 ? validUtf8Value(value) : valueSyntax.test(value))) return fail(badSyntax);
    const key = keyword.toUpperCase();
    if (params.has(key)) return fail(reply(501, Enhanced.invalidArguments, `Duplicate ${key} parameter`));

    params.set(key, value);
  }
  return ok(params);
}

/** esmtp-value widened by RFC 6531 to UTF-8, without broken surrogates. */
function validUtf8Value(value: string): boolean {
  return valueSyntaxUtf8.test(value) && !loneSurrogate.test(value);
}

/** The MAIL FROM parameters, by keyword. */
const mailParamSpecs = {
  SIZE: { offered: (ext) => ext.size !== null, apply: applySize },
  BODY: { offered: (ext) => ext.eightBitMime || ext.binaryMime, apply: applyBody },
  SMTPUTF8: { offered: (ext) => ext.smtputf8, apply: flag('SMTPUTF8', 'smtputf8') },
  REQUIRETLS: { offered: (ext) => ext.requireTls, apply: flag('REQUIRETLS', 'requireTls') },
  RET: { offered: (ext) => ext.dsn, apply: applyRet },
  ENVID: { offered: (ext) => ext.dsn, apply: applyEnvid },
  AUTH: { offered: (ext) => ext.auth, apply: applyAuth },
} as const satisfies Record<string, ParamSpec<MailParams, Extensions>>;

/** The RCPT TO parameters, by keyword. */
const rcptParamSpecs = {
  NOTIFY: { offered: (ext) => ext.dsn, apply: applyNotify },
  ORCPT: { offered: (ext) => ext.dsn, apply: applyOrcpt },
} as const satisfies Record<string, ParamSpec<RcptParams, RcptExtensions>>;

/** Read the MAIL FROM parameters against the extensions offered. */
export function parseMailParams(params: Params, extensions: Extensions): Parsed<MailParams> {
  if (params.size === 0) return defaultMailParams;
  const draft: Draft<MailParams> = { ...mailDefaults };
  const refusal = applyAll(params, mailParamSpecs, draft, extensions);
  return refusal ? fail(refusal) : ok(draft);
}

/** Read the RCPT TO parameters against the extensions offered. */
export function parseRcptParams(params: Params, extensions: RcptExtensions): Parsed<RcptParams> {
  if (params.size === 0) return defaultRcptParams;
  const draft: Draft<RcptParams> = { ...rcptDefaults };
  const refusal = applyAll(params, rcptParamSpecs, draft, extensions);
  return refusal ? fail(refusal) : ok(draft);
}

/** Apply each parameter through its spec; the first refusal wins. */
function applyAll<T, E>(
  params: Params,
  specs: Readonly<Record<string, ParamSpec<T, E>>>,
  draft: Draft<T>,
  ext: E,
): Reply | null {
  for (const [keyword, value] of params) {
    const spec = Object.hasOwn(specs, keyword) ? specs[keyword] : undefined;
    if (!spec || !spec.offered(ext)) return notRecognized(keyword);
    const refusal = spec.apply(value, draft, ext);
    if (refusal) return refusal;
  }
  return null;
}

/** SIZE=n (RFC 1870): 1–20 digits, at most the fixed maximum when there is one (kept as the nearest double). */
function applySize(value: ParamValue, into: Draft<MailParams>, ext: Extensions): Reply | null {
  if (value === true || !sizeSyntax.test(value)) return badValue('SIZE');
  const max = ext.size ?? 0;
  if (max > 0 && BigInt(value) > BigInt(max)) return sizeExceeded;
  into.size = Number(value);
  return null;
}

/** BODY=7BIT|8BITMIME|BINARYMIME (RFC 6152, RFC 3030); each value needs its own extension. */
function applyBody(value: ParamValue, into: Draft<MailParams>, ext: Extensions): Reply | null {
  if (value === true) return badValue('BODY');
  const body = value.toUpperCase();
  if (body === '7BIT') into.body = '7BIT';
  else if (body === '8BITMIME') into.body = ext.eightBitMime ? '8BITMIME' : null;
  else if (body === 'BINARYMIME') into.body = ext.binaryMime ? 'BINARYMIME' : null;
  else return badValue('BODY');
  return into.body === null ? notRecognized(`BODY=${body}`) : null;
}

/** A keyword that takes no value (SMTPUTF8, REQUIRETLS) and sets one flag. */
function flag(keyword: string, field: 'smtputf8' | 'requireTls'): ParamSpec<MailParams, Extensions>['apply'] {
  return (value, into) => {
    if (value !== true) return badValue(keyword);
    into[field] = true;
    return null;
  };
}

/** RET=FULL|HDRS (RFC 3461 §4.3). */
function applyRet(value: ParamValue, into: Draft<MailParams>): Reply | null {
  const ret = value === true ? '' : value.toUpperCase();
  if (ret !== 'FULL' && ret !== 'HDRS') return badValue('RET');
  into.ret = ret;
  return null;
}

/** ENVID=xtext (RFC 3461 §4.4): printable US-ASCII once decoded, at most 100 characters. */
function applyEnvid(value: ParamValue, into: Draft<MailParams>): Reply | null {
  const envid = value === true ? null : xtextDecode(value);
  if (envid === null || envid === '' || envid.length > maxEnvidLength || !printableAscii.test(envid)) {
    return badValue('ENVID');
  }
  into.envid = envid;
  return null;
}

/** AUTH=xtext (RFC 4954 §5): the authenticated sender's mailbox, or `<>`. */
function applyAuth(value: ParamValue, into: Draft<MailParams>, ext: Extensions): Reply | null {
  const auth = value === true ? null : xtextDecode(value, { unicode: ext.smtputf8 });
  if (auth === null || auth === '' || controls.test(auth)) return badValue('AUTH');
  into.auth = auth;
  return null;
}

/** NOTIFY=NEVER or a comma list of SUCCESS, FAILURE, DELAY (RFC 3461 §4.1). */
function applyNotify(value: ParamValue, into: Draft<RcptParams>): Reply | null {
  if (value === true) return badValue('NOTIFY');
  const words = value.toUpperCase().split(',');
  if (words.length === 1 && words[0] === 'NEVER') {
    into.notify = 'NEVER';
    return null;
  }
  const events: NotifyEvent[] = [];
  for (const word of words) {
    if (word !== 'SUCCESS' && word !== 'FAILURE' && word !== 'DELAY') return badValue('NOTIFY');
    if (!events.includes(word)) events.push(word);
  }
  into.notify = events;
  return null;
}

/** ORCPT=addr-type;address (RFC 3461 §4.2; `utf-8` per RFC 6533 §3). */
function applyOrcpt(value: ParamValue, into: Draft<RcptParams>, ext: RcptExtensions): Reply | null {
  if (value === true) return badValue('ORCPT');
  const semi = value.indexOf(';');
  const type = value.slice(0, Math.max(semi, 0)).toLowerCase();
  if (semi < 0 || !atom.test(type)) return badValue('ORCPT');

  // utf-8 addresses use \x{HEX} escapes; every other type is xtext of printable US-ASCII.
  const raw = value.slice(semi + 1);
  const address =
    type === 'utf-8' ? utf8AddrDecode(raw, { unicode: ext.smtputf8 === true }) : xtextDecode(raw);
  if (address === null || address === '') return badValue('ORCPT');
  if (type === 'utf-8' ? controls.test(address) : !printableAscii.test(address)) return badValue('ORCPT');

  into.orcpt = { type, address };
  return null;
}
