import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { inspect } from 'node:util';

/**
 * The marker in every canary secret and token: the emulators' default credentials and the tokens they issue (where
 * an emulator issues a gateway's real token format by default, when a test asks for canary tokens) hold it, so a test
 * that finds it in an error, an event, a log line or `util.inspect` output has found a leak.
 */
export const canaryMarker = 'xcanary';

/** A fresh canary: `prefix`, the marker and `hexLength` random hex digits, e.g. `xcanary3f9a…`. */
export function createCanary(prefix = '', hexLength = 32): string {
  return `${prefix}${canaryMarker}${randomBytes(Math.ceil(hexLength / 2))
    .toString('hex')
    .slice(0, hexLength)}`;
}

/** True when `text` holds the canary marker or any of `secrets` (for secrets that cannot carry the marker). */
export function containsCanary(text: string, secrets: readonly string[] = []): boolean {
  return text.includes(canaryMarker) || secrets.some((secret) => secret !== '' && text.includes(secret));
}

/** A canary from its marker to the end of the token-like characters after it. */
const canaryPattern = new RegExp(`${canaryMarker}[\\w.~+/=-]*`, 'g');

/** `text` with every canary replaced, so a report of a leak does not leak again. */
export function maskCanaries(text: string, secrets: readonly string[] = []): string {
  let masked = text.replace(canaryPattern, '[canary]');
  for (const secret of secrets) if (secret !== '') masked = masked.split(secret).join('[canary]');
  return masked;
}

/**
 * Every way a value can reach a log: its text forms, and for errors the whole `cause` chain. `seen` is shared with the
 * errors of an `AggregateError`, so one that holds itself (or its cause) is rendered once, not until the stack ends.
 */
function renderings(value: unknown, seen = new Set<unknown>()): Array<[form: string, text: string]> {
  const forms: Array<[string, string]> = [
    ['util.inspect', inspect(value, { depth: Number.POSITIVE_INFINITY, showHidden: true })],
    ['util.inspect (default)', inspect(value)],
  ];
  try {
    forms.push(['JSON.stringify', JSON.stringify(value) ?? 'undefined']);
  } catch (error) {
    forms.push(['JSON.stringify threw', String(error)]);
  }
  try {
    forms.push(['String', String(value)]);
  } catch {
    // An object without a prototype has no toString: nothing to render.
  }
  let error = value;
  for (let depth = 0; error instanceof Error && !seen.has(error) && depth < 32; depth += 1) {
    seen.add(error);
    forms.push([`cause[${depth}].message`, error.message], [`cause[${depth}].stack`, String(error.stack)]);
    if (error instanceof AggregateError) {
      error.errors.forEach((inner: unknown, index) => {
        for (const [form, text] of renderings(inner, seen)) forms.push([`cause[${depth}].errors[${index}] ${form}`, text]);
      });
    }
    error = error.cause;
  }
  return forms;
}

/** A leak a {@link CanaryScanner} found: what was scanned and in which form, the canary masked. */
export interface CanaryLeak {
  /** The label given to `scan` or `scanText`: which observed item leaked. */
  label: string;
  /** How it was rendered when the canary showed, e.g. `util.inspect` or `cause[1].message`. */
  form: string;
  /** The text around the canary, with every canary masked. */
  excerpt: string;
}

/** What {@link CanaryScanner.scanSettled} leaves out of the scan when the promise resolves. */
export interface ScanSettledOptions {
  /** The value is the token itself, which the caller asked for: it is not scanned. @default false */
  isToken?: boolean | undefined;
  /** The value is the gateway's own answer to the caller (an API body, verbatim): it is not scanned. @default false */
  isGatewayData?: boolean | undefined;
}

/**
 * Collects everything a test can observe (errors, events, public objects, console lines) and checks each text
 * form for canaries. `count` says how many items were scanned, so a test can show it scanned something.
 *
 * @example
 * const scanner = new CanaryScanner([emulator.defaultMerchant.impSecret]);
 * scanner.scan('error', await cache.getToken().catch((error) => error));
 * expect(scanner.leaks).toEqual([]);
 */
export class CanaryScanner {
  readonly #secrets: readonly string[];
  #count = 0;
  #forms = 0;
  #leaksTaken = 0;
  /** Every leak found so far, in order; a test expects it to be empty. */
  readonly leaks: CanaryLeak[] = [];

  /** `secrets`: values to look for besides the marker (e.g. a secret set by a test). */
  constructor(secrets: readonly string[] = []) {
    this.#secrets = secrets;
  }

  /** Items scanned so far. */
  get count(): number {
    return this.#count;
  }

  /** Text forms scanned so far (an error gives several: message, stack, inspect, JSON, each cause). */
  get forms(): number {
    return this.#forms;
  }

  /** Scans one observed value in every form it can be logged in. Returns the value, for chaining. */
  scan<T>(label: string, value: T): T {
    this.#count += 1;
    for (const [form, text] of renderings(value)) this.scanText(label, text, form);
    return value;
  }

  /** Scans text that was already produced (a console line, a written chunk). Does not count as an item. */
  scanText(label: string, text: string, form = 'text'): void {
    this.#forms += 1;
    if (!containsCanary(text, this.#secrets)) return;
    const positions = [canaryMarker, ...this.#secrets].map((needle) => (needle === '' ? -1 : text.indexOf(needle)));
    const index = Math.min(...positions.filter((position) => position >= 0));
    const excerpt = maskCanaries(text.slice(Math.max(0, index - 120), index + 160), this.#secrets);
    this.leaks.push({ label, form, excerpt });
  }

  /**
   * Settles `promise` and scans what it failed with, and what it resolved to unless that is the token or the
   * gateway's own answer (see `options`); a `Response` is never scanned, as it is the gateway's answer to the
   * caller's own API call, headers and all. Returns the value or the error, and never throws.
   */
  async scanSettled(label: string, promise: Promise<unknown>, options: ScanSettledOptions = {}): Promise<unknown> {
    try {
      const value = await promise;
      if (options.isToken !== true && options.isGatewayData !== true && !(value instanceof Response)) this.scan(`${label}: value`, value);
      return value;
    } catch (error) {
      return this.scan(`${label}: error`, error);
    }
  }

  /** The leaks found since the last call, so each test (in an `afterEach`) shows only its own. */
  takeLeaks(): CanaryLeak[] {
    const leaks = this.leaks.slice(this.#leaksTaken);
    this.#leaksTaken = this.leaks.length;
    return leaks;
  }

  /**
   * When the environment variable `X_CANARY_REPORT` names a file, appends one JSON line to it: `file` and how many
   * items and text forms were scanned.
   */
  report(file: string): void {
    const report = process.env.X_CANARY_REPORT;
    if (report) appendFileSync(report, `${JSON.stringify({ file, items: this.count, forms: this.forms })}\n`);
  }
}
