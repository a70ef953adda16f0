import { escapeUnprintable } from './settings-checks.js';

/**
 * Longest text from a gateway kept in an error or event (a status text, a content type, a provider message); the rest
 * is cut. Identity-service messages carry trace ids and run to a few hundred characters; a proxy may send anything.
 */
export const gatewayTextMaxLength = 500;

/**
 * The shortest run of a secret's characters that is redacted where it appears on its own: a server that echoes a
 * secret cut short (a status line trimmed to its length limit) still must not show it. Eight characters of a random
 * secret do not occur in a gateway's text by chance.
 */
const secretFragmentMinLength = 8;

const redacted = '[redacted]';

/**
 * A string a gateway (or a proxy in front of it) sent, made safe for an error message or an event: every secret in
 * `secrets` is replaced by `[redacted]`, as sent and in the forms a server echoes it in (URL-encoded, form-encoded,
 * JSON-escaped), and so is any run of at least 8 of a secret's characters; control characters are escaped (`\u000a`),
 * so the text cannot break a log line; and the result is cut to `maxLength` characters. Every provider passes every
 * server-supplied string through it (status text, content type, error code and message) before it goes into an error.
 *
 * @example
 * redactGatewayText(response.statusText, [impSecret]) // 'Unauthorized [redacted]'
 */
export function redactGatewayText(text: string, secrets: readonly string[], maxLength: number = gatewayTextMaxLength): string {
  const present = secrets.filter((secret) => typeof secret === 'string' && secret !== '');
  let safe = text;
  // Longest first, so a secret that contains another is replaced whole.
  for (const form of echoForms(present)) safe = safe.split(form).join(redacted);
  const cut = safe.length > maxLength ? safe.slice(0, maxLength) : safe;
  const printable = escapeUnprintable(redactFragments(cut, present));
  // Cut again after escaping, which lengthens the text; then say how long the original was.
  if (safe.length <= maxLength && printable.length <= maxLength) return printable;
  return `${printable.slice(0, maxLength)}… (${text.length} characters)`;
}

/** Each secret as sent and as a server might echo it: URL- and form-encoded, JSON-escaped; longest first. */
function echoForms(secrets: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const secret of secrets) {
    forms.add(secret);
    forms.add(encodeURIComponent(secret));
    forms.add(new URLSearchParams({ s: secret }).toString().slice(2));
    forms.add(JSON.stringify(secret).slice(1, -1));
  }
  return [...forms].sort((a, b) => b.length - a.length);
}

/**
 * `text` with every run of at least {@link secretFragmentMinLength} characters that also occurs in a secret replaced.
 * Common substrings by dynamic programming: `text` is at most `maxLength` long here and a secret at most 1,024, so
 * this stays well under a millisecond, and it runs only when an error is built.
 */
function redactFragments(text: string, secrets: readonly string[]): string {
  const hidden = new Uint8Array(text.length);
  let found = false;
  for (const secret of secrets) {
    if (secret.length < secretFragmentMinLength) continue;
    let previous = new Uint32Array(secret.length + 1);
    let current = new Uint32Array(secret.length + 1);
    for (let i = 1; i <= text.length; i += 1) {
      for (let j = 1; j <= secret.length; j += 1) {
        current[j] = text[i - 1] === secret[j - 1] ? previous[j - 1]! + 1 : 0;
        if (current[j]! >= secretFragmentMinLength) {
          hidden.fill(1, i - current[j]!, i);
          found = true;
        }
      }
      [previous, current] = [current, previous];
    }
  }
  if (!found) return text;
  let result = '';
  for (let i = 0; i < text.length; i += 1) {
    if (hidden[i] === 0) result += text[i];
    else if (i === 0 || hidden[i - 1] === 0) result += redacted;
  }
  return result;
}
