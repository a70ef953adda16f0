import * as v from 'valibot';
import type { ConfigurationIssue } from './errors.js';

/**
 * Limits on configuration values, in characters. Real values are far shorter (an i'mport `imp_secret` is 80
 * characters, a Vipps `client_secret` 44, a subscription key 32): the limits stop a runaway or hostile value (a whole
 * file pasted in, a megabyte from an environment variable) before it reaches a header, a hash, an error or a log.
 */
export const settingLimits = Object.freeze({
  /** Longest merchant id. */
  merchantIdMaxLength: 128,
  /** Longest credential: key, secret, client id, subscription key. Node refuses header blocks over 16 KiB. */
  credentialMaxLength: 1024,
  /** Longest `baseUrl`. */
  baseUrlMaxLength: 2048,
  /** Longest environment variable name in a `{ "$env": "NAME" }` reference. */
  envNameMaxLength: 256,
  /** Deepest nesting of objects and arrays below `merchants` in a merchant configuration. */
  configMaxDepth: 16,
});

/**
 * Names that must never be keys of a configuration object: every property of `Object.prototype` (`__proto__`,
 * `constructor`, `hasOwnProperty`, …) and `prototype`. Code that copies or looks up such a key on a plain object
 * reaches the prototype instead of the data, the root of prototype pollution.
 */
const reservedKeys: ReadonlySet<string> = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

/** True for a key that must not name a merchant or a setting (`__proto__`, `constructor`, `prototype`, …). */
export function isReservedKey(key: string): boolean {
  return reservedKeys.has(key);
}

/** The message for a reserved key, one wording everywhere. */
export const reservedKeyMessage = 'is a reserved name (__proto__, constructor, prototype, …), not a setting';

// C0 and C1 control characters and DEL: line breaks in a header or a log line, invisible in a message.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const controlCharacters = /[\u0000-\u001f\u007f-\u009f]/;
// The same, plus the line and paragraph separators, which break a log line too.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const unprintableCharacters = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** True when `text` holds a control character (line break, NUL, escape, DEL, C1). */
export function hasControlCharacter(text: string): boolean {
  return controlCharacters.test(text);
}

/**
 * The own enumerable string-keyed properties of `settings` in a fresh object without a prototype, leaving out
 * reserved keys; `undefined` when `settings` is not a non-array object. Validating and then reading this copy means
 * an inherited property (a polluted `Object.prototype.baseUrl`) can never become a setting, and a getter is read once.
 */
export function ownSettings(settings: unknown): Record<string, unknown> | undefined {
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) return undefined;
  const copy: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(settings)) {
    if (!isReservedKey(key)) copy[key] = (settings as Record<string, unknown>)[key];
  }
  return copy;
}

/** One issue per reserved own key of `settings`, at that key's path. */
export function reservedKeyIssues(settings: unknown): ConfigurationIssue[] {
  if (typeof settings !== 'object' || settings === null) return [];
  return Object.keys(settings)
    .filter(isReservedKey)
    .map((key) => ({ path: key, message: reservedKeyMessage }));
}

/** True for `localhost`, any address in 127.0.0.0/8 and `[::1]`, as `URL` normalises them. */
export function isLoopbackHostname(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * What is wrong with a `baseUrl`, or `undefined` when it is an `https:` origin (or an `http:` one on a loopback
 * host, for an emulator). Never quotes the value: a pasted URL may hold credentials.
 */
export function baseUrlProblem(value: string): string | undefined {
  if (value.length > settingLimits.baseUrlMaxLength) return `must be at most ${settingLimits.baseUrlMaxLength} characters`;
  // URL parsing silently drops tabs and line breaks and trims spaces: refuse them rather than guess what was meant.
  if (/\s/.test(value) || hasControlCharacter(value)) return 'must not contain whitespace or control characters';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URL';
  }
  // Any other scheme (file:, javascript:, data:) has no host a token could be bound to.
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an http(s) URL';
  if (url.username !== '' || url.password !== '') return 'must not contain credentials';
  // API paths are resolved against the origin, so a path prefix would not be honoured; `href` also catches an empty `?`.
  if (url.href !== `${url.origin}/`) return 'must be an origin, without path, query or fragment';
  if (url.protocol === 'http:' && !isLoopbackHostname(url.hostname)) {
    return 'must use https (http is allowed for loopback hosts only: localhost, 127.0.0.0/8, [::1])';
  }
  return undefined;
}

/**
 * A name from a configuration (a merchant id, a provider name) made safe to print in a path or message: control
 * characters escaped, cut to `maxLength`. For names only; secrets are never printed at all.
 */
export function printableName(name: string, maxLength: number = settingLimits.merchantIdMaxLength): string {
  return escapeUnprintable(name.length > maxLength ? `${name.slice(0, maxLength)}… (${name.length} characters)` : name);
}

/** `text` with control characters and line separators escaped (`\\u000a`), so it cannot break or forge a log line. */
export function escapeUnprintable(text: string): string {
  return text.replace(unprintableCharacters, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** What is wrong with a merchant id, or `undefined` when it is usable. */
export function merchantIdProblem(merchantId: string): string | undefined {
  if (merchantId === '') return 'merchant id must not be empty';
  if (merchantId.length > settingLimits.merchantIdMaxLength) {
    return `merchant id must be at most ${settingLimits.merchantIdMaxLength} characters`;
  }
  if (isReservedKey(merchantId)) return 'merchant id is a reserved name (__proto__, constructor, prototype, …)';
  if (hasControlCharacter(merchantId)) return 'merchant id must not contain control characters';
  if (merchantId.trim() !== merchantId) return 'merchant id must not start or end with whitespace';
  return undefined;
}

/** What {@link checkProviderSettings} found. */
export interface ProviderSettingsCheck<TOutput> {
  /** Every problem, paths relative to the settings (`impSecret`); empty when the settings are usable. */
  issues: ConfigurationIssue[];
  /** The copy of the own properties that was validated, for checks across fields; absent when not an object. */
  own?: Record<string, unknown>;
  /** The schema's output, when it accepted the settings and no key was reserved. */
  output?: TOutput;
}

/**
 * Checks a provider's settings with its valibot object schema, the way every provider should: only a copy of the own
 * properties is validated (so what was checked is what is used, and an inherited `baseUrl` is never a setting),
 * reserved keys are issues, so is every key the schema does not list (`baseURL: unknown setting; did you mean
 * "baseUrl"?`, since a silently ignored typo would send the credentials to the default host), a missing key reads
 * `required`, and the schema's messages are used as they are (write them so they never quote a value). Returns every
 * issue, paths relative to the settings (`impSecret`); the copy that was validated (for checks across fields),
 * unless the settings are not an object; and, when the schema accepted the settings and no key was reserved or
 * unknown, the schema's output. The known keys are the schema's `entries` (of `v.object` or a `v.pipe` starting
 * with one); a schema without entries gets no unknown-key check.
 *
 * @example
 * const { issues, output } = checkProviderSettings(mySettingsSchema, settings);
 * if (output === undefined) throw new ConfigurationError({ provider: 'my-gateway', issues });
 */
export function checkProviderSettings<TSchema extends v.GenericSchema>(
  schema: TSchema,
  settings: unknown,
): ProviderSettingsCheck<v.InferOutput<TSchema>> {
  const own = ownSettings(settings);
  if (own === undefined) return { issues: [{ path: '', message: 'must be an object' }] };
  const issues = [...reservedKeyIssues(settings), ...unknownKeyIssues(schema, own)];
  const result = v.safeParse(schema, own, { abortPipeEarly: true });
  if (!result.success) {
    for (const issue of result.issues) {
      const path = v.getDotPath(issue) ?? '';
      // A missing key is reported by the object schema with the object's message; say what the user must do.
      issues.push({ path, message: path !== '' && issue.input === undefined ? 'required' : issue.message });
    }
  }
  return issues.length > 0 || !result.success ? { issues, own } : { issues, own, output: result.output };
}

/** The keys an object schema lists, also through a `v.pipe` around it; `undefined` when the schema lists none. */
function knownKeysOf(schema: v.GenericSchema): readonly string[] | undefined {
  const candidate = schema as { entries?: unknown; pipe?: readonly unknown[] };
  if (typeof candidate.entries === 'object' && candidate.entries !== null) return Object.keys(candidate.entries);
  const first = candidate.pipe?.[0];
  return first !== undefined && first !== schema ? knownKeysOf(first as v.GenericSchema) : undefined;
}

/** Longest unknown key quoted (as its path) in an issue, in characters. */
const unknownKeyMaxLength = 64;

/** One issue per own key the schema does not list, with the closest known key when it is a near miss. */
function unknownKeyIssues(schema: v.GenericSchema, own: Record<string, unknown>): ConfigurationIssue[] {
  const known = knownKeysOf(schema);
  if (known === undefined) return [];
  const knownSet = new Set(known);
  return Object.keys(own)
    .filter((key) => !knownSet.has(key))
    .map((key) => {
      const suggestion = nearestKey(key, known);
      return {
        path: printableName(key, unknownKeyMaxLength),
        message:
          suggestion === undefined
            ? `unknown setting; the settings are: ${known.join(', ')}`
            : `unknown setting; did you mean "${suggestion}"?`,
      };
    });
}

/**
 * The known key `key` most likely misspells: the same but for case, `_`, `-` or spaces (`imp_secret`, `baseURL`), or
 * within 2 edits (`enviroment`); `undefined` when none is that close.
 */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  // A long key is no near miss of a setting name, and comparing it would cost its length times theirs.
  if (key.length > unknownKeyMaxLength) return undefined;
  const normal = (name: string): string => name.toLowerCase().replace(/[-_\s]/g, '');
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = normal(candidate) === normal(key) ? 0 : editDistance(key, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance: insertions, deletions and substitutions turning `a` into `b`. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
