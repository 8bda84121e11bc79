/**
 * xtext (RFC 3461 §4) and the utf-8-addr-xtext / utf-8-addr-unitext forms (RFC 6533 §3).
 *
 * Reads ESMTP parameter values (ENVID, ORCPT, AUTH) and emits the text they stand for, or null
 * when a value is malformed. The encoders emit the canonical form a Mailway client sends.
 *
 *   xtext   = *( xchar / hexchar )
 *   xchar   = %d33-126 except "+" and "="
 *   hexchar = "+" 2(upper-case HEXDIG)          ; one octet
 *
 *   utf-8-addr-xtext   = 1*( QCHAR / EmbeddedUnicodeChar )
 *   utf-8-addr-unitext = 1*( QUCHAR / EmbeddedUnicodeChar )   ; when SMTPUTF8 is offered
 *   QCHAR              = %d33-126 except "+", "=" and "\"
 *   EmbeddedUnicodeChar = "\x{" HEXPOINT "}"     ; one code point, shortest hex form
 *
 * RFC 6533's HEXPOINT lists the two-digit forms as 01-09, 10-19, 20, 2B, 3D, 5C, 7F and 80-FF,
 * leaving out 0A-0F and 1A-1F, which no encoder could avoid for LF or ESC. Mailway reads and
 * writes every C0 control 01-1F in two digits.
 */

export interface XtextOptions {
  /** Let UTF-8 characters stand for themselves (RFC 6531 §3.3 esmtp-value under SMTPUTF8). */
  readonly unicode?: boolean;
}

const upperHexPair = /^[0-9A-F]{2}$/;
const embedded = /^\\x\{([0-9A-Fa-f]{2,6})\}/;
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/** Decode xtext; null when a `+` is not followed by two upper-case hex digits or a character is not allowed. */
export function xtextDecode(text: string, options: XtextOptions = {}): string | null {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; ) {
    const code = text.charCodeAt(i);

    // hexchar: one octet.
    if (code === 0x2b) {
      const hex = text.slice(i + 1, i + 3);
      if (!upperHexPair.test(hex)) return null;
      bytes.push(parseInt(hex, 16));
      i += 3;
      continue;
    }

    // xchar.
    if (code >= 0x21 && code <= 0x7e && code !== 0x3d) {
      bytes.push(code);
      i += 1;
      continue;
    }

    // A UTF-8 character standing for itself.
    const cp = text.codePointAt(i) ?? 0;
    if (options.unicode && cp >= 0x80 && !isSurrogate(cp)) {
      const ch = String.fromCodePoint(cp);
      bytes.push(...utf8Encoder.encode(ch));
      i += ch.length;
      continue;
    }
    return null;
  }

  // The octets must spell well-formed UTF-8 (ASCII being a subset).
  try {
    return utf8Decoder.decode(new Uint8Array(bytes));
  } catch {
    return null;
  }
}

/** Encode as xtext: xchars stand for themselves, every other octet of the UTF-8 form as `+XX`. */
export function xtextEncode(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (code >= 0x21 && code <= 0x7e && ch !== '+' && ch !== '=') {
      out += ch;
      continue;
    }
    for (const byte of utf8Encoder.encode(ch)) out += `+${hex(byte, 2)}`;
  }
  return out;
}

/** Decode utf-8-addr-xtext, or utf-8-addr-unitext when `unicode`; null when malformed or empty. */
export function utf8AddrDecode(text: string, options: XtextOptions = {}): string | null {
  if (text === '') return null;
  let out = '';
  for (let i = 0; i < text.length; ) {
    const code = text.charCodeAt(i);

    // EmbeddedUnicodeChar.
    if (code === 0x5c) {
      const m = embedded.exec(text.slice(i, i + 11));
      if (!m) return null;
      const digits = m[1] ?? '';
      const cp = hexPoint(digits);
      if (cp === null) return null;
      out += String.fromCodePoint(cp);
      i += m[0].length;
      continue;
    }

    // QCHAR.
    if (code >= 0x21 && code <= 0x7e && code !== 0x2b && code !== 0x3d) {
      out += text[i];
      i += 1;
      continue;
    }

    // QUCHAR beyond ASCII.
    const cp = text.codePointAt(i) ?? 0;
    if (options.unicode && cp >= 0x80 && !isSurrogate(cp)) {
      const ch = String.fromCodePoint(cp);
      out += ch;
      i += ch.length;
      continue;
    }
    return null;
  }
  return out;
}

/** Encode as utf-8-addr-xtext, or utf-8-addr-unitext when `unicode`. NUL has no encoding. */
export function utf8AddrEncode(text: string, options: XtextOptions = {}): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (code === 0) throw new RangeError('NUL cannot be encoded as utf-8-addr-xtext');
    const qchar = code >= 0x21 && code <= 0x7e && ch !== '+' && ch !== '=' && ch !== '\\';
    if (qchar || (options.unicode && code >= 0x80)) out += ch;
    else out += `\\x{${hex(code, 2)}}`;
  }
  return out;
}

/** The code point a HEXPOINT names, or null when the digits are not its one allowed form. */
function hexPoint(digits: string): number | null {
  const cp = parseInt(digits, 16);

  // Two digits: controls, SP, "+", "=", "\", DEL, and U+0080–U+00FF.
  if (digits.length === 2) {
    const special = (cp >= 0x01 && cp <= 0x20) || cp === 0x2b || cp === 0x3d || cp === 0x5c || cp === 0x7f;
    return special || cp >= 0x80 ? cp : null;
  }

  // Three to six digits: no leading zero, six only for plane 16 (10xxxx), no surrogates.
  if (digits.startsWith('0')) return null;
  if (digits.length === 6 && !digits.startsWith('10')) return null;
  return isSurrogate(cp) ? null : cp;
}

/** U+D800–U+DFFF. */
function isSurrogate(cp: number): boolean {
  return cp >= 0xd800 && cp <= 0xdfff;
}

/** Upper-case hex, zero-padded to `width`. */
function hex(n: number, width: number): string {
  return n.toString(16).toUpperCase().padStart(width, '0');
}
