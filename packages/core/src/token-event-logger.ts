import { ConfigurationError, type ConfigurationIssue, isAuthError, isRetryable } from './errors.js';
import { printableName } from './settings-checks.js';
import type { TokenEvent, TokenEventListener } from './token-events.js';

/** The level a token event is logged at; `silent` leaves it out. */
export type TokenLogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** The levels a logger must have, as methods. */
const loggerLevels = ['debug', 'info', 'warn', 'error'] as const;

/**
 * A logger with a method per level, such as pino's or winston's: each is called with a structured object and
 * a message (in the order of {@link TokenEventLoggerOptions.argumentOrder}).
 */
export interface TokenEventLoggerTarget {
  /** Logs at `debug`. */
  debug(object: Record<string, unknown>, message: string): unknown;
  /** Logs at `info`. */
  info(object: Record<string, unknown>, message: string): unknown;
  /** Logs at `warn`. */
  warn(object: Record<string, unknown>, message: string): unknown;
  /** Logs at `error`. */
  error(object: Record<string, unknown>, message: string): unknown;
}

/** The level of each event type: a level, or a function of the event that gives one. */
export type TokenEventLevels = {
  readonly [Type in TokenEvent['type']]?: TokenLogLevel | ((event: Extract<TokenEvent, { type: Type }>) => TokenLogLevel);
};

/** Options of {@link createTokenEventLogger}. */
export interface TokenEventLoggerOptions {
  /** Levels by event type, over {@link defaultTokenEventLevels}. @default defaultTokenEventLevels */
  levels?: TokenEventLevels | undefined;
  /**
   * `object-first` calls `logger.info(object, message)` (pino); `message-first` calls
   * `logger.info(message, object)` (winston, whose meta object comes second).
   * @default 'object-first'
   */
  argumentOrder?: 'object-first' | 'message-first' | undefined;
}

/**
 * Where each event goes by default: a token request is `debug` and a new token `info`; what degrades service without
 * failing it (a refresh failing while the token still serves, a retryable failure, a store failing, a token refused by
 * the API, a lock holder that never published) is `warn`; credentials the gateway rejected (a failure retrying cannot
 * fix) are `error`.
 */
export const defaultTokenEventLevels: Readonly<Required<TokenEventLevels>> = Object.freeze({
  'token-requested': 'debug',
  'token-refreshed': 'info',
  'token-unchanged': 'debug',
  'token-request-failed': (event) => (event.retryable ? 'warn' : 'error'),
  'token-served-stale': 'warn',
  'token-invalidated': 'warn',
  'token-invalidation-deferred': 'warn',
  'store-error': 'warn',
  'lock-waited': (event) => (event.received ? 'debug' : 'warn'),
});

/** The message of each event type; the details are in the object. */
const messages: Readonly<Record<TokenEvent['type'], string>> = {
  'token-requested': 'token requested',
  'token-refreshed': 'token refreshed',
  'token-unchanged': 'token unchanged',
  'token-request-failed': 'token request failed',
  'token-served-stale': 'token served stale after a failed refresh',
  'token-invalidated': 'token invalidated',
  'token-invalidation-deferred': 'token invalidation deferred',
  'store-error': 'token store failed',
  'lock-waited': 'waited for the token store lock',
};

type LevelOf = (event: TokenEvent) => TokenLogLevel;

/**
 * An `onEvent` listener, for a token cache or a registry, that logs each token event at its level with a structured object: the event type (`event`),
 * `provider`, `cacheKey`, the merchants of a registry's event, and the event's own figures and words (`reason`,
 * `fingerprint`, `expiresInMs`, …). An error is logged as its stable fields only: `name`, `code`, `reason`,
 * `status`, `retryable`; never its message, its cause or a gateway's text, which may quote what was sent. Tokens and
 * secrets never reach the logger: events hold none, and nothing else is copied. The event's `time` is left to the
 * logger's own timestamp.
 *
 * @example
 * import pino from 'pino';
 * const registry = createMerchantRegistry({ providers, merchants, onEvent: createTokenEventLogger(pino()) });
 * // winston: createTokenEventLogger(winstonLogger, { argumentOrder: 'message-first' })
 *
 * @throws {@link ConfigurationError} when the logger lacks a level method, or `levels` or `argumentOrder` holds
 * something it cannot use, with every problem at once.
 */
export function createTokenEventLogger(logger: TokenEventLoggerTarget, options: TokenEventLoggerOptions = {}): TokenEventListener {
  const issues: ConfigurationIssue[] = [];
  for (const level of loggerLevels) {
    if (typeof (logger as unknown as Record<string, unknown> | undefined)?.[level] !== 'function') {
      issues.push({ path: `logger.${level}`, message: 'must be a function (object, message) or (message, object)' });
    }
  }
  const levels = new Map<string, LevelOf>();
  for (const [type, level] of Object.entries(defaultTokenEventLevels)) levels.set(type, levelFunction(level));
  for (const [type, level] of Object.entries(options.levels ?? {})) {
    if (level === undefined) continue;
    const path = `levels.${printableName(type)}`;
    if (!Object.hasOwn(messages, type)) issues.push({ path, message: `is not an event type (${Object.keys(messages).join(', ')})` });
    else if (typeof level !== 'function' && !isLevel(level))
      issues.push({ path, message: 'must be debug, info, warn, error, silent or a function of the event' });
    else levels.set(type, levelFunction(level));
  }
  const order = options.argumentOrder ?? 'object-first';
  if (order !== 'object-first' && order !== 'message-first') {
    issues.push({ path: 'argumentOrder', message: 'must be object-first or message-first' });
  }
  if (issues.length > 0) throw new ConfigurationError({ issues });

  const methods = logger as unknown as Record<(typeof loggerLevels)[number], (first: unknown, second: unknown) => unknown>;
  return function logTokenEvent(event) {
    const level = levels.get(event.type)?.(event) ?? 'debug';
    if (level === 'silent' || !isLevel(level)) return;
    const object = loggedFields(event);
    const message = messages[event.type] ?? event.type;
    if (order === 'object-first') methods[level](object, message);
    else methods[level](message, object);
  };
}

function isLevel(value: unknown): value is TokenLogLevel {
  return value === 'silent' || loggerLevels.includes(value as (typeof loggerLevels)[number]);
}

function levelFunction(level: TokenLogLevel | ((event: never) => TokenLogLevel)): LevelOf {
  return typeof level === 'function' ? (level as LevelOf) : () => level;
}

/**
 * What is logged of an event, by construction: its type, its merchants, and its own fields that are a word, a number
 * or a flag (events never hold a token: a fingerprint stands for one), the provider's figures, and the error's stable
 * fields. Anything else an event may carry, now or in a later version, is left out.
 */
function loggedFields(event: TokenEvent): Record<string, unknown> {
  const object: Record<string, unknown> = { event: event.type };
  for (const [key, value] of Object.entries(event)) {
    if (key === 'type' || key === 'time') continue;
    if (typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value)))
      object[key] = value;
    else if (key === 'merchants' && Array.isArray(value)) object.merchants = value.filter((id) => typeof id === 'string');
    else if (key === 'diagnostics' && typeof value === 'object' && value !== null) object.diagnostics = primitives(value);
    else if (key === 'error') object.error = errorFields(value);
  }
  return object;
}

/** The words, numbers and flags of a provider's diagnostics. */
function primitives(value: object): Record<string, string | number | boolean> {
  const fields: Record<string, string | number | boolean> = {};
  for (const [key, field] of Object.entries(value)) {
    if (typeof field === 'string' || typeof field === 'boolean' || typeof field === 'number') fields[key] = field;
  }
  return fields;
}

/** An error's stable fields: never its message or cause (a store's error may quote a connection string). */
function errorFields(error: unknown): Record<string, unknown> {
  if (!isAuthError(error)) return { name: error instanceof Error ? error.name : typeof error };
  const { reason, status, operation } = error as { reason?: unknown; status?: unknown; operation?: unknown };
  return {
    name: error.name,
    code: error.code,
    ...(typeof reason === 'string' ? { reason } : {}),
    ...(typeof status === 'number' ? { status } : {}),
    ...(typeof operation === 'string' ? { operation } : {}),
    retryable: isRetryable(error),
  };
}
