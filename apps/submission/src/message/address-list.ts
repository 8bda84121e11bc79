/**
 * The addr-specs of an RFC 5322 address list (the value of From, Sender, Reply-To…).
 *
 * Reads an unfolded field value; emits each mailbox's `local@domain`, display names,
 * comments and group syntax removed. Only the addresses matter to the submission agent (who
 * may send as whom), so encoded words in display names are never decoded. Returns null when
 * the value is not a well-formed list, so the caller can refuse the message rather than guess.
 */

/** The mailboxes of an address list, or null if it cannot be read. */
export function mailboxesOf(value: string): string[] | null {
  const tokens = tokenize(value);
  if (tokens === null) return null;

  const mailboxes: string[] = [];
  let phrase: string[] = [];
  for (let i = 0; i < tokens.length; i += 1) {
    const token = tokens[i] as Token;
    if (token.kind === 'angle') {
      mailboxes.push(token.text);
      phrase = [];
      // After <addr> only a separator may follow.
      const next = tokens[i + 1];
      if (next !== undefined && !(next.kind === 'special' && (next.text === ',' || next.text === ';'))) return null;
    } else if (token.kind === 'special' && (token.text === ',' || token.text === ';')) {
      if (phrase.length > 0) {
        const bare = bareAddress(phrase);
        if (bare === null) return null;
        mailboxes.push(bare);
      }
      phrase = [];
    } else if (token.kind === 'special' && token.text === ':') {
      // A group: its display name is dropped, its members follow.
      phrase = [];
    } else {
      phrase.push(token.text);
    }
  }
  if (phrase.length > 0) {
    const bare = bareAddress(phrase);
    if (bare === null) return null;
    mailboxes.push(bare);
  }
  return mailboxes;
}

type Token = { readonly kind: 'word' | 'quoted' | 'angle' | 'special'; readonly text: string };

/** Words, quoted strings (kept quoted), <angle-addrs> and specials, comments dropped. */
function tokenize(value: string): Token[] | null {
  const tokens: Token[] = [];
  let i = 0;
  while (i < value.length) {
    const c = value[i] as string;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i += 1;
    } else if (c === '(') {
      // Comments nest (RFC 5322 §3.2.2) and may hold quoted pairs.
      let depth = 0;
      for (; i < value.length; i += 1) {
        const d = value[i];
        if (d === '\\') i += 1;
        else if (d === '(') depth += 1;
        else if (d === ')' && --depth === 0) break;
      }
      if (depth !== 0) return null;
      i += 1;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < value.length && value[j] !== '"'; j += 1) if (value[j] === '\\') j += 1;
      if (j >= value.length) return null;
      tokens.push({ kind: 'quoted', text: value.slice(i, j + 1) });
      i = j + 1;
    } else if (c === '<') {
      const end = angleEnd(value, i);
      if (end === -1) return null;
      const inner = value.slice(i + 1, end).replace(/\s+/g, '');
      // An obsolete route (@a,@b:) is dropped, as RFC 5322 §4.4 allows.
      const address = inner.replace(/^(@[^:]*:)/, '');
      if (!isAddrSpec(address)) return null;
      tokens.push({ kind: 'angle', text: address });
      i = end + 1;
    } else if (',;:'.includes(c)) {
      tokens.push({ kind: 'special', text: c });
      i += 1;
    } else {
      let j = i;
      while (j < value.length && !' \t\r\n()"<>,;:'.includes(value[j] as string)) j += 1;
      tokens.push({ kind: 'word', text: value.slice(i, j) });
      i = j;
    }
  }
  return tokens;
}

/** Index of the `>` closing the angle address opened at `start`, skipping quoted local parts. */
function angleEnd(value: string, start: number): number {
  for (let j = start + 1; j < value.length; j += 1) {
    const c = value[j];
    if (c === '"') {
      for (j += 1; j < value.length && value[j] !== '"'; j += 1) if (value[j] === '\\') j += 1;
    } else if (c === '>') {
      return j;
    } else if (c === '<') {
      return -1;
    }
  }
  return -1;
}

/** A mailbox written without angle brackets: its tokens must join into one addr-spec. */
function bareAddress(words: string[]): string | null {
  const address = words.join('');
  return isAddrSpec(address) ? address : null;
}

/** local@domain with a non-empty local part (dot-atom or quoted) and domain. */
function isAddrSpec(text: string): boolean {
  const at = text.lastIndexOf('@');
  if (at <= 0 || at === text.length - 1) return false;
  const local = text.slice(0, at);
  const domain = text.slice(at + 1);
  const localOk = /^"(?:[^"\\]|\\.)*"$/.test(local) || /^[^\s"(),:;<>@[\\\]]+$/.test(local);
  const domainOk = /^\[[^[\]\\]*\]$/.test(domain) || /^[^\s"(),:;<>@[\\\]]+$/.test(domain);
  return localOk && domainOk;
}
