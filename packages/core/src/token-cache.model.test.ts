/**
 * Model-based tests of the token cache: fast-check generates sequences of commands (calls, aborts, invalidations,
 * changes of what the gateway answers, virtual time) and every invariant is checked after every command.
 *
 * The gateway is a scripted in-process provider whose answers the commands choose: the thing under test is the
 * cache, and the HTTP layer has its own tests. The provider also keeps the ground truth the cache cannot see (when
 * each token really expires, in monotonic time), which is what the invariants are checked against. Time is vitest's
 * fake time, so a run covers hours in milliseconds.
 *
 * Invariants, after every command: no caller (nor peekToken) gets a token with less than minValidityMs left, or one
 * the gateway never issued, or one invalidated before the call and not issued again (for a token the cache dropped:
 * not brought back by a request asked for before the drop); a forced caller gets what the gateway answered after its
 * call; a held valid token is handed out at once (stale-while-failing) and only one that may be handed out is ever
 * adopted; a token is refused as too short-lived only when it was; at most one token request in flight, at most one
 * started per call and none while only time passes (but the one more the cache asks when an answer brings back a
 * token dropped meanwhile); every caller settles within requestTimeoutMs (after that extra request started, if it
 * waited for one); an aborted caller settles at once with its abort reason and the shared request goes on; background
 * refreshes keep to the announced backoff (with its floor) and their number per token stays within what the capped
 * exponential backoff allows; no request within failureCooldownMs of rejected credentials; errors are typed and,
 * like events, never hold a token; invalidate() never rejects; no unhandled rejection. A refresh-window property
 * starts every run in a held token's refresh window, where refresh loops would show. A shared-store property runs two
 * processes on one store with its lock: valid tokens only, callers settle within lockWaitMs + requestTimeoutMs, one
 * request per process, and two at once only when one of them gave up waiting for the lock. A loopback property checks
 * the core invariants over the loopback token server (real sockets, fetch, aborts).
 *
 * Runs are deterministic: a fixed seed and number of runs, overridable for longer hunts with
 * `FC_SEED=… FC_NUM_RUNS=… pnpm vitest run --config vitest.workspace.ts packages/core/src/token-cache.model`.
 */
import { inspect } from 'node:util';
import { createFakeTimersClock, type FakeTimersClock } from '@x/test-support/clock';
import { startTestTokenServer, type TestTokenServer, testProvider } from '@x/test-support/token-server';
import { createWakingStore } from '@x/test-support/waking-store';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type CachePolicy, maxDurationMs, resolveCachePolicy } from './cache-policy.js';
import { isAuthError, isTokenResponseError, TokenRequestError } from './errors.js';
import { fingerprint } from './fingerprint.js';
import { canaryMarker, containsCanary } from './testing/index.js';
import { type AccessToken, createTokenCache, type TokenCache } from './token-cache.js';
import type { TokenEvent } from './token-events.js';
import type { ProviderToken, TokenRequestContext } from './token-provider.js';
import { createMemoryTokenStore } from './token-store.js';

const second = 1_000;
const minute = 60_000;
const hour = 3_600_000;
const start = Date.UTC(2025, 0, 1);
/** The cache's own floor between two refresh attempts (see `minimumRetryDelayMs` in token-cache.ts). */
const minimumRetryDelayMs = 100;
/**
 * Two expiries of one token closer than this may count as "unchanged" for the cache: its tolerance is the gateway's
 * precision (1 s by default) plus both answers' request durations, which the scripted gateway keeps within seconds.
 */
const unchangedToleranceMs = 5_000;

const numRuns = Number(process.env.FC_NUM_RUNS ?? 500);
const seed = Number(process.env.FC_SEED ?? 20_251_122);
const maxCommands = 40;
/** The loopback property pays for real sockets: fewer, shorter runs. */
const loopbackRuns = Math.max(1, Math.round(numRuns / 20));
const loopbackMaxCommands = 15;
const refreshWindowRuns = numRuns * 2;
const refreshWindowMaxCommands = 8;
/** Cheap (no sockets, 2 ms a run): enough runs to meet a forced refresh beside another process's rotation. */
const sharedStoreRuns = numRuns * 2;
const sharedStoreMaxCommands = 25;

/** What the gateway does with the token requests that arrive from now on. */
type GatewayResponse =
  /** A new token living `lifetimeMs`. */
  | { kind: 'new'; lifetimeMs: number; delayMs: number; honoursSignal: boolean }
  /** The last token again with its expiry unchanged (i'mport outside its extension window). */
  | { kind: 'same'; delayMs: number; honoursSignal: boolean }
  /** The last token again with its expiry moved to now + `lifetimeMs` (i'mport inside its extension window). */
  | { kind: 'extend'; lifetimeMs: number; delayMs: number; honoursSignal: boolean }
  | { kind: 'fail'; retryable: boolean; delayMs: number; honoursSignal: boolean }
  /** A response that fails validation (no token, no expiry). */
  | { kind: 'invalid'; delayMs: number; honoursSignal: boolean }
  /** Never answers; with `honoursSignal` it rejects once the cache aborts the request, as `fetch` does. */
  | { kind: 'hang'; honoursSignal: boolean };

/** A token the gateway answered with, and when it really expires. */
interface Answer {
  readonly accessToken: string;
  /** Monotonic; `NaN` for an answer that is no token at all. */
  readonly deadline: number;
}

interface Caller {
  readonly id: number;
  /** Monotonic time of the call. */
  readonly startedAt: number;
  /** Position of the call in the sequence of operations (calls, invalidations, gateway answers). */
  readonly operation: number;
  readonly controller: AbortController | undefined;
  readonly forceRefresh: boolean;
  settled: boolean;
  settledAt?: number;
  value?: AccessToken;
  error?: unknown;
}

/** Lets every pending promise callback run (the provider and store here do no I/O), without moving fake time. */
async function flush(): Promise<void> {
  // Node reports an unhandled rejection after the macrotask in which it happened: three turns are plenty.
  for (let turn = 0; turn < 1; turn += 1) await new Promise((resolve) => setImmediate(resolve));
}

/** Totals over every run of the property, for the summary line. */
interface RunStatistics {
  runs: number;
  commands: number;
  lastRunCommands: number;
  calls: number;
  tokenRequests: number;
}

/**
 * The system under test (one cache over a scripted gateway) and what the invariants need to know about it.
 * Every command goes through {@link World.callStep} or {@link World.timeStep}, which end with {@link World.check}.
 */
class World {
  readonly clock = createFakeTimersClock();
  readonly policy: Readonly<CachePolicy>;
  readonly cache: TokenCache;
  readonly callers: Caller[] = [];
  /** Every token a caller received, in order. */
  readonly handedOut: string[] = [];
  /** Ground truth: monotonic deadline of each answer the gateway gave, keyed by token and the expiry it reported. */
  readonly deadlines = new Map<string, number>();
  /** Operation at which the gateway last answered with each token. */
  readonly lastAnswered = new Map<string, number>();
  /**
   * Operation at which the latest request that brought each token back had *started*: an answer that arrives after an
   * invalidation but was asked for before it does not count as the gateway issuing the token again.
   */
  readonly lastAskedFor = new Map<string, number>();
  /** Operation at which each token was last passed to `invalidate`. */
  readonly invalidatedAt = new Map<string, number>();
  /** Operation at which the cache last acted on an `invalidate` of each token (it held it, and said so). */
  readonly droppedAt = new Map<string, number>();
  /** The token being passed to `invalidate`, while the cache's synchronous part runs. */
  #invalidating: { accessToken: string; operation: number; deferred: boolean } | undefined;
  readonly invalidations: Array<{ settled: boolean; error?: unknown }> = [];
  /** Found in callbacks (the provider, the event listener); thrown by the next check. */
  readonly violations: string[] = [];
  commands = 0;
  response: GatewayResponse = { kind: 'new', lifetimeMs: hour, delayMs: 0, honoursSignal: true };
  requestsStarted = 0;
  /** Second requests made because an answer carried a token invalidated while it was on the wire. */
  reasks = 0;
  /** Requests the cache has neither seen answered nor aborted. */
  requestsInFlight = 0;

  #phase: 'call' | 'time' = 'call';
  /**
   * Set when the cache awaited an answer carrying a token invalidated after that request started: the cache asks once
   * more at once, so its next request may start without a caller, and callers waiting then wait for it too.
   */
  #reaskExpected = false;
  /** When the last such second request started (monotonic), for the callers' wait bound. */
  #lastReaskAt: number | undefined;
  #operation = 0;
  #issuedTokens = 0;
  #last: Answer | undefined;
  /** The latest deadline of each token in an answer the cache was still waiting for, and its operation. */
  readonly #heard = new Map<string, { deadline: number; operation: number }>();
  /** The last answer the cache was still waiting for (not one to a request it had timed out). */
  #lastAccepted: Answer | undefined;
  /** The token the cache holds (from its events), and the background requests made while it was held. */
  #tenure:
    | {
        held: Answer | undefined;
        firstBackgroundRequestAt?: number;
        backgroundRequests: number;
        /** When the cache said, after a failed or unchanged attempt, it would try again. */
        nextAttemptAt?: number;
      }
    | undefined;
  /** After rejected credentials with no token to serve: no request (but forced ones) before this monotonic time. */
  #cooldownUntil: number | undefined;
  /** Errors already checked against the answer that caused them (callers in a cooldown get the same object). */
  readonly #seenErrors = new WeakSet<object>();
  /** Callers not yet checked: those still waiting, and those settled since the last check. */
  #unchecked: Caller[] = [];
  readonly #draw: number;
  readonly #unhandled: unknown[];

  constructor(policy: CachePolicy, draw: number, unhandled: unknown[]) {
    this.policy = resolveCachePolicy('model', policy);
    this.#draw = draw;
    this.#unhandled = unhandled;
    this.cache = createTokenCache(
      {
        provider: 'model',
        cacheKey: 'model:one',
        baseUrl: 'https://gateway.test',
        requestToken: (context) => this.#requestToken(context),
      },
      { clock: this.clock, policy, random: () => draw, onEvent: (event) => this.#observe(event) },
    );
  }

  /** Runs a command that calls the cache, lets it settle without moving time, then checks the invariants. */
  async callStep(what: string, action: () => void): Promise<void> {
    const requestsBefore = this.requestsStarted;
    const reasksBefore = this.reasks;
    action();
    await flush();
    const started = this.requestsStarted - requestsBefore - (this.reasks - reasksBefore);
    if (started > 1) this.violations.push(`${what} started ${started} token requests`);
    this.check();
  }

  /** Moves virtual time (firing the gateway's answers and the cache's timeouts), then checks the invariants. */
  async timeStep(milliseconds: number): Promise<void> {
    this.#phase = 'time';
    await vi.advanceTimersByTimeAsync(milliseconds);
    await flush();
    this.#phase = 'call';
    this.check();
  }

  /** The token the cache holds and must hand out at once, if there is one with more than `minValidityMs` left. */
  servableToken(): Answer | undefined {
    const held = this.#tenure?.held;
    if (held === undefined) return undefined;
    // What the cache was told, unless the gateway has since said the token ends sooner (heard by the cache or not).
    const deadline = this.#last?.accessToken === held.accessToken ? Math.min(held.deadline, this.#last.deadline) : held.deadline;
    return deadline - this.clock.monotonic() > this.policy.minValidityMs ? held : undefined;
  }

  getToken(options: { forceRefresh: boolean; abortable: boolean }): Caller {
    const controller = options.abortable ? new AbortController() : undefined;
    const caller: Caller = {
      id: this.callers.length,
      startedAt: this.clock.monotonic(),
      operation: this.#nextOperation(),
      controller,
      forceRefresh: options.forceRefresh,
      settled: false,
    };
    this.callers.push(caller);
    this.#unchecked.push(caller);
    this.cache.getToken({ signal: controller?.signal, forceRefresh: options.forceRefresh }).then(
      (value) => {
        Object.assign(caller, { settled: true, settledAt: this.clock.monotonic(), value });
        this.handedOut.push(value.accessToken);
      },
      (error: unknown) => Object.assign(caller, { settled: true, settledAt: this.clock.monotonic(), error }),
    );
    return caller;
  }

  peekToken(): void {
    const token = this.cache.peekToken();
    if (token !== undefined) this.#checkHandedOut('peekToken()', token, this.clock.monotonic(), this.#nextOperation());
  }

  invalidate(accessToken: string): void {
    const operation = this.#nextOperation();
    const previous = this.invalidatedAt.get(accessToken);
    this.invalidatedAt.set(accessToken, operation);
    const invalidation: { settled: boolean; error?: unknown } = { settled: false };
    this.invalidations.push(invalidation);
    this.#invalidating = { accessToken, operation, deferred: false };
    const done = this.cache.invalidate(accessToken);
    // A token issued moments ago in place of a dropped one is kept through the backoff step (announced at once): the
    // invalidation did not happen, so the token may still be handed out.
    if (this.#invalidating.deferred) {
      if (previous === undefined) this.invalidatedAt.delete(accessToken);
      else this.invalidatedAt.set(accessToken, previous);
    }
    this.#invalidating = undefined;
    done.then(
      () => Object.assign(invalidation, { settled: true }),
      (error: unknown) => Object.assign(invalidation, { settled: true, error }),
    );
  }

  /** Every invariant, on everything that happened since the last check. Throws the first violation. */
  check(): void {
    const now = this.clock.monotonic();
    const { requestTimeoutMs } = this.policy;
    if (this.violations.length > 0) throw new Error(this.violations.join('\n'));
    if (this.#unhandled.length > 0) throw new Error(`Unhandled rejection: ${inspect(this.#unhandled[0])}`);
    if (this.requestsInFlight > 1) throw new Error(`${this.requestsInFlight} token requests in flight at once`);
    const waiting: Caller[] = [];
    for (const caller of this.#unchecked) {
      if (!caller.settled) {
        waiting.push(caller);
        // A caller waits for at most one attempt, which the request timeout bounds, plus the wait for an answer that
        // brought back a token invalidated meanwhile, after which the cache asks once more.
        const reaskAt = this.#lastReaskAt;
        const bound =
          reaskAt !== undefined && reaskAt >= caller.startedAt ? reaskAt - caller.startedAt + requestTimeoutMs : requestTimeoutMs;
        if (now - caller.startedAt >= bound) {
          throw new Error(
            `caller #${caller.id} still waits ${now - caller.startedAt} ms after its call (requestTimeoutMs ${requestTimeoutMs})`,
          );
        }
        continue;
      }
      if (caller.value !== undefined) {
        this.#checkHandedOut(`caller #${caller.id}`, caller.value, caller.settledAt!, caller.operation);
        // forceRefresh ignores the cached token: what the caller gets, the gateway answered after the call.
        if (caller.forceRefresh && !(this.lastAnswered.get(caller.value.accessToken)! > caller.operation)) {
          throw new Error(`forced caller #${caller.id} got a token the gateway has not answered since the call`);
        }
        continue;
      }
      const signal = caller.controller?.signal;
      if (signal?.aborted === true && caller.error === signal.reason) continue;
      if (!isAuthError(caller.error)) throw new Error(`caller #${caller.id} got an untyped error: ${inspect(caller.error)}`);
      if (isTokenResponseError(caller.error) && !this.#seenErrors.has(caller.error)) {
        // A token refused as too short-lived must really have been: the answer behind it (the last one the cache
        // awaited) has at most minValidityMs left, give or take the cache's tolerance for unchanged expiries.
        this.#seenErrors.add(caller.error);
        const answer = this.#lastAccepted;
        const left = answer === undefined ? Number.NaN : answer.deadline - caller.settledAt!;
        if (left > this.policy.minValidityMs + unchangedToleranceMs) {
          throw new Error(`caller #${caller.id} was refused a token with ${left} ms left: ${caller.error.message}`);
        }
      }
      if (containsCanary(caller.error.message)) throw new Error(`caller #${caller.id} got an error naming a token`);
    }
    this.#unchecked = waiting;
    for (const invalidation of this.invalidations) {
      if (!invalidation.settled) throw new Error('invalidate() has not settled without any time passing');
      if ('error' in invalidation) throw new Error(`invalidate() rejected: ${inspect(invalidation.error)}`);
    }
    this.invalidations.length = 0;
    this.#checkHealth(now);
    const tenure = this.#tenure;
    if (tenure?.firstBackgroundRequestAt !== undefined) {
      const elapsed = now - tenure.firstBackgroundRequestAt;
      const allowed = this.#backgroundRequestBound(elapsed);
      if (tenure.backgroundRequests > allowed) {
        throw new Error(
          `${tenure.backgroundRequests} background requests for one token within ${elapsed} ms; the backoff allows ${allowed}`,
        );
      }
    }
  }

  /**
   * `health()` agrees with the hand-out rule and with itself: a token it reports is one the cache may hand out, a held
   * valid token is reported, an error goes with the states that follow a failure, the rejection's cool-down is
   * reported as such, and nothing in it names a token.
   */
  #checkHealth(now: number): void {
    const health = this.cache.health();
    const text = JSON.stringify(health);
    if (containsCanary(text)) throw new Error(`health() names a token: ${text}`);
    const serves = health.state === 'fresh' || health.state === 'refreshing' || health.state === 'serving-stale';
    if (serves !== (health.expiresInMs !== undefined)) throw new Error(`health() is ${text}: a time left goes with a served token`);
    if (health.expiresInMs !== undefined && health.expiresInMs < this.policy.minValidityMs) {
      throw new Error(`health() reports a served token with less than minValidityMs left: ${text}`);
    }
    const failed = health.state === 'serving-stale' || health.state === 'failing' || health.state === 'cooling-down';
    if (failed !== (health.lastError !== undefined) || failed !== (health.retryInMs !== undefined)) {
      throw new Error(`health() is ${text}: an error and a retry time go with the states after a failure`);
    }
    if (this.servableToken() !== undefined && !serves) throw new Error(`health() is ${text} while the cache holds a token to hand out`);
    const cooldownUntil = this.#cooldownUntil;
    if (cooldownUntil !== undefined && now < cooldownUntil && this.servableToken() === undefined) {
      if (health.state !== 'cooling-down' || Math.abs(health.retryInMs! - (cooldownUntil - now)) > 1) {
        throw new Error(`health() is ${text} within the cool-down of rejected credentials (${cooldownUntil - now} ms left)`);
      }
    }
  }

  #checkHandedOut(who: string, token: AccessToken, at: number, operation: number): void {
    const deadline = this.deadlines.get(`${token.accessToken}@${token.expiresAt}`);
    if (deadline === undefined) throw new Error(`${who} got a token or an expiry the gateway never issued`);
    if (deadline - at < this.policy.minValidityMs) {
      throw new Error(`${who} got a token with ${deadline - at} ms left (minValidityMs ${this.policy.minValidityMs})`);
    }
    // Once the cache has heard the gateway's latest word on a token, it hands it out with no later expiry than that
    // (give or take its tolerance for unchanged expiries).
    const heard = this.#heard.get(token.accessToken);
    if (heard !== undefined && heard.operation < operation && deadline > heard.deadline + unchangedToleranceMs) {
      throw new Error(`${who} got a token with an expiry ${deadline - heard.deadline} ms later than the gateway's latest word`);
    }
    const invalidatedAt = this.invalidatedAt.get(token.accessToken);
    if (invalidatedAt !== undefined && operation > invalidatedAt && this.lastAnswered.get(token.accessToken)! < invalidatedAt) {
      throw new Error(`${who} got a token invalidated before the call, which the gateway has not issued again since`);
    }
    // Stricter for the invalidations the cache acted on: an answer that arrived afterwards but was asked for before
    // (the gateway decided it before the token was revoked) does not count as issuing the token again.
    const droppedAt = this.droppedAt.get(token.accessToken);
    if (droppedAt !== undefined && operation > droppedAt && (this.lastAskedFor.get(token.accessToken) ?? 0) < droppedAt) {
      throw new Error(`${who} got a token dropped by invalidate() before the call, from a request asked for before the drop`);
    }
  }

  /**
   * The most background refresh attempts one token may see within `elapsed` ms of the first: each failed or
   * unchanged attempt pushes the next one back by the capped exponential backoff (random draw × ceiling, at least
   * the cache's floor).
   */
  #backgroundRequestBound(elapsed: number): number {
    const { retryBaseDelayMs, retryMaxDelayMs } = this.policy;
    let attempts = 1;
    let spent = 0;
    for (let failures = 0; ; failures += 1) {
      const ceiling = Math.min(retryMaxDelayMs, retryBaseDelayMs * 2 ** failures);
      const delay = Math.max(this.#draw * ceiling, Math.min(ceiling, minimumRetryDelayMs));
      if (ceiling === retryMaxDelayMs) return attempts + Math.floor((elapsed - spent) / delay);
      if (spent + delay > elapsed) return attempts;
      spent += delay;
      attempts += 1;
    }
  }

  /** The latest ground-truth deadline the gateway gave `accessToken`. */
  lastDeadline(accessToken: string): number | undefined {
    return this.#last?.accessToken === accessToken ? this.#last.deadline : undefined;
  }

  #nextOperation(): number {
    this.#operation += 1;
    return this.#operation;
  }

  #observe(event: TokenEvent): void {
    const error = 'error' in event && event.error instanceof Error ? `${event.error.message} ${String(event.error.cause)}` : '';
    if (containsCanary(JSON.stringify(event) + error)) this.violations.push(`a ${event.type} event holds a token`);
    const now = this.clock.monotonic();
    switch (event.type) {
      case 'token-refreshed': {
        const answer = this.#lastAccepted;
        // Only the gateway's answers are known here; a token from the store has no ground truth to check.
        const held =
          event.source === 'provider' && answer !== undefined && fingerprint(answer.accessToken) === event.fingerprint ? answer : undefined;
        if (event.source === 'provider' && held === undefined) this.violations.push('the cache adopted a token that was not the answer');
        if (held !== undefined && !(held.deadline - now > this.policy.minValidityMs)) {
          this.violations.push(`the cache adopted a token with ${held.deadline - now} ms left, which it may not hand out`);
        }
        this.#tenure = { held, backgroundRequests: 0 };
        this.#cooldownUntil = undefined;
        break;
      }
      case 'token-invalidation-deferred':
        if (this.#invalidating !== undefined) this.#invalidating.deferred = true;
        break;
      case 'token-invalidated':
        this.#tenure = undefined;
        if (this.#invalidating !== undefined) this.droppedAt.set(this.#invalidating.accessToken, this.#invalidating.operation);
        break;
      case 'token-served-stale':
      case 'token-unchanged': {
        // Full jitter may draw ~0: the delay still has a floor, or every call in the window would ask again.
        const floor = Math.min(this.policy.retryBaseDelayMs, minimumRetryDelayMs);
        if (event.nextAttemptInMs < floor)
          this.violations.push(`${event.type}: next attempt in ${event.nextAttemptInMs} ms, below ${floor} ms`);
        if (this.#tenure !== undefined) this.#tenure.nextAttemptAt = now + event.nextAttemptInMs;
        break;
      }
      case 'token-request-failed':
        if (!event.retryable && this.servableToken() === undefined) this.#cooldownUntil = now + this.policy.failureCooldownMs;
        break;
      case 'token-requested':
        if (event.reason === 'refresh-ahead' && this.#tenure !== undefined) {
          this.#tenure.firstBackgroundRequestAt ??= now;
          this.#tenure.backgroundRequests += 1;
          // The announced delay is rounded to the millisecond.
          const early = (this.#tenure.nextAttemptAt ?? now) - now;
          if (early > 1) this.violations.push(`a background request ${early} ms before the announced next attempt`);
        }
        if (event.reason !== 'forced' && this.#cooldownUntil !== undefined && now < this.#cooldownUntil) {
          this.violations.push(`a ${event.reason} token request ${this.#cooldownUntil - now} ms before the failure cooldown ends`);
        }
        break;
    }
  }

  #requestToken({ signal, now }: TokenRequestContext): Promise<ProviderToken> {
    // The cache has no timer-driven refresh: a request that starts while only time passes is a refresh loop.
    const reask = this.#reaskExpected;
    this.#reaskExpected = false;
    if (reask) {
      this.reasks += 1;
      this.#lastReaskAt = this.clock.monotonic();
    }
    if (this.#phase === 'time' && !reask) this.violations.push('a token request started while no caller was calling');
    const startedOperation = this.#nextOperation();
    const response = this.response;
    this.requestsStarted += 1;
    this.requestsInFlight += 1;
    if (this.requestsInFlight > 1) this.violations.push(`${this.requestsInFlight} token requests in flight at once`);
    let open = true;
    const close = (): void => {
      if (open) this.requestsInFlight -= 1;
      open = false;
    };
    signal.addEventListener('abort', close, { once: true });
    return new Promise((resolve, reject) => {
      if (response.honoursSignal) signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      if (response.kind === 'hang') return;
      const answer = (): void => {
        if (response.honoursSignal && signal.aborted) return;
        const accepted = !signal.aborted;
        close();
        try {
          const result = this.#answer(response, now, accepted);
          this.lastAskedFor.set(result.accessToken, Math.max(this.lastAskedFor.get(result.accessToken) ?? 0, startedOperation));
          if (accepted && (this.droppedAt.get(result.accessToken) ?? 0) > startedOperation) this.#reaskExpected = true;
          resolve(result);
        } catch (error) {
          reject(error);
        }
      };
      if (response.delayMs === 0) answer();
      else setTimeout(answer, response.delayMs);
    });
  }

  #answer(response: Exclude<GatewayResponse, { kind: 'hang' }>, now: () => number, accepted: boolean): ProviderToken {
    const monotonic = this.clock.monotonic();
    if (accepted) this.#lastAccepted = undefined;
    if (response.kind === 'fail') {
      throw new TokenRequestError(`Token request failed with status ${response.retryable ? 503 : 401}`, {
        provider: 'model',
        reason: response.retryable ? 'http' : 'rejected',
        retryable: response.retryable,
        status: response.retryable ? 503 : 401,
      });
    }
    if (response.kind === 'invalid') {
      if (accepted) this.#lastAccepted = { accessToken: '', deadline: Number.NaN };
      return { accessToken: '', expiresAt: Number.NaN };
    }
    let last = this.#last;
    if (response.kind === 'new' || last === undefined) {
      this.#issuedTokens += 1;
      last = {
        // Canary-shaped, so a leak is easy to spot here and the canary guard catches one that reaches any output.
        accessToken: `${canaryMarker}-model-token-${this.#issuedTokens}`,
        deadline: monotonic + ('lifetimeMs' in response ? response.lifetimeMs : hour),
      };
    } else if (response.kind === 'extend') {
      last = { accessToken: last.accessToken, deadline: monotonic + response.lifetimeMs };
    }
    this.#last = last;
    if (accepted) this.#lastAccepted = last;
    // The gateway's clock does not jump with ours: like a provider correcting for skew, it reports the expiry on the
    // local wall clock as it reads now.
    const expiresAt = now() + (last.deadline - monotonic);
    this.deadlines.set(`${last.accessToken}@${expiresAt}`, last.deadline);
    const operation = this.#nextOperation();
    this.lastAnswered.set(last.accessToken, operation);
    if (accepted) this.#heard.set(last.accessToken, { deadline: last.deadline, operation });
    return { accessToken: last.accessToken, expiresAt };
  }
}

type ModelCommand = fc.AsyncCommand<object, World>;

/** A command: `run` counts itself and acts on the world; every step checks the invariants. */
function command(name: string, run: (world: World) => Promise<void>): ModelCommand {
  return {
    check: () => true,
    run: async (_model, world) => {
      world.commands += 1;
      await run(world);
    },
    toString: () => name,
  };
}

const lifetimeArbitrary = fc.constantFrom(5 * second, 15 * second, minute, 10 * minute, hour);
const delayArbitrary = fc.constantFrom(0, 1, 500, 3 * second, 9_999, 15 * second);

const responseArbitrary: fc.Arbitrary<GatewayResponse> = fc.oneof(
  fc.record({ kind: fc.constant('new' as const), lifetimeMs: lifetimeArbitrary, delayMs: delayArbitrary, honoursSignal: fc.boolean() }),
  fc.record({ kind: fc.constant('same' as const), delayMs: delayArbitrary, honoursSignal: fc.boolean() }),
  fc.record({ kind: fc.constant('extend' as const), lifetimeMs: lifetimeArbitrary, delayMs: delayArbitrary, honoursSignal: fc.boolean() }),
  fc.record({ kind: fc.constant('fail' as const), retryable: fc.boolean(), delayMs: delayArbitrary, honoursSignal: fc.boolean() }),
  fc.record({ kind: fc.constant('invalid' as const), delayMs: delayArbitrary, honoursSignal: fc.boolean() }),
  fc.record({ kind: fc.constant('hang' as const), honoursSignal: fc.boolean() }),
);

const durationArbitrary = fc.oneof(
  fc.constantFrom(1, 99, 100, second, 9_999, 10 * second, minute, 5 * minute, hour),
  fc.integer({ min: 1, max: 2 * hour }),
);

const getTokenCommand = fc.record({ forceRefresh: fc.constantFrom(false, false, false, true), abortable: fc.boolean() }).map((options) =>
  command(`getToken(${JSON.stringify(options)})`, async (world) => {
    const servable = options.forceRefresh ? undefined : world.servableToken();
    let caller: Caller | undefined;
    await world.callStep('getToken()', () => {
      caller = world.getToken(options);
    });
    // Stale-while-failing: a valid token is handed out at once, whatever the gateway is doing.
    if (servable !== undefined && caller!.value?.accessToken !== servable.accessToken) {
      throw new Error(`caller #${caller!.id} was not handed the held token with ${servable.deadline - caller!.startedAt} ms left`);
    }
  }),
);

const peekTokenCommand = fc.constant(command('peekToken()', (world) => world.callStep('peekToken()', () => world.peekToken())));

const abortCommand = fc.nat().map((index) =>
  command(`abort(${index})`, async (world) => {
    const waiting = world.callers.filter((caller) => !caller.settled && caller.controller !== undefined);
    const caller = waiting[index % Math.max(1, waiting.length)];
    if (caller === undefined) return;
    const inFlight = world.requestsInFlight;
    const othersWaiting = waiting.filter((other) => other !== caller).length;
    await world.callStep('abort', () => caller.controller!.abort());
    // Promptly: without any time passing, and with the abort as the reason.
    if (!caller.settled || caller.error !== caller.controller!.signal.reason) {
      throw new Error(`aborted caller #${caller.id} did not settle at once with its abort reason`);
    }
    // The shared request goes on for the others.
    const stillWaiting = world.callers.filter((other) => !other.settled && other.controller !== undefined).length;
    if (world.requestsInFlight !== inFlight || stillWaiting !== othersWaiting) {
      throw new Error(`aborting caller #${caller.id} cancelled the shared request or another caller's wait`);
    }
  }),
);

const invalidateCommand = fc
  .record({ which: fc.constantFrom('latest' as const, 'oldest' as const), thenCall: fc.boolean() })
  .map(({ which, thenCall }) =>
    command(`invalidate(${which}${thenCall ? ', then getToken() at once' : ''})`, async (world) => {
      const token = which === 'latest' ? world.handedOut.at(-1) : world.handedOut[0];
      if (token === undefined) return;
      await world.callStep('invalidate()', () => {
        world.invalidate(token);
        // Another caller that does not wait for invalidate() to finish (the store's delete may still be under way).
        if (thenCall) world.getToken({ forceRefresh: false, abortable: false });
      });
    }),
  );

const advanceToCommand = fc
  .constantFrom('window' as const, 'window' as const, 'edge' as const, 'past-edge' as const, 'expiry' as const)
  .map((point) =>
    command(`advanceTo(${point})`, async (world) => {
      // Time to the points where behaviour changes for the token handed out last: its refresh window, the last
      // moment it may be handed out, just past it, its expiry.
      const token = world.handedOut.at(-1);
      const deadline = token === undefined ? undefined : world.lastDeadline(token);
      if (deadline === undefined) return;
      const { minValidityMs, refreshAheadMs } = world.policy;
      const left = { window: minValidityMs + refreshAheadMs / 4, edge: minValidityMs + 1, 'past-edge': minValidityMs - 1, expiry: 0 }[
        point
      ];
      const milliseconds = Math.floor(deadline - left - world.clock.monotonic());
      if (milliseconds > 0) await world.timeStep(milliseconds);
    }),
  );

const gatewayCommand = responseArbitrary.map((response) =>
  command(`gateway(${JSON.stringify(response)})`, async (world) => {
    world.response = response;
  }),
);

const advanceCommand = durationArbitrary.map((milliseconds) =>
  command(`advance(${milliseconds})`, (world) => world.timeStep(milliseconds)),
);

const trafficCommand = fc
  .record({ calls: fc.integer({ min: 2, max: 100 }), everyMs: fc.constantFrom(10, 100, 100, second, second, 30 * second, minute) })
  .map(({ calls, everyMs }) =>
    command(`traffic(${calls} calls every ${everyMs} ms)`, async (world) => {
      for (let call = 0; call < calls; call += 1) {
        await world.callStep('getToken()', () => world.getToken({ forceRefresh: false, abortable: false }));
        await world.timeStep(everyMs);
      }
    }),
  );

const jumpWallCommand = fc
  .constantFrom(-3 * hour, -minute, minute, 3 * hour)
  .map((milliseconds) => command(`jumpWall(${milliseconds})`, async (world) => world.clock.jumpWall(milliseconds)));

/** Repetition weights the draw: calls, the gateway's answers and time matter most. */
const commandArbitraries: Array<fc.Arbitrary<ModelCommand>> = [
  getTokenCommand,
  getTokenCommand,
  peekTokenCommand,
  abortCommand,
  invalidateCommand,
  advanceToCommand,
  advanceToCommand,
  gatewayCommand,
  gatewayCommand,
  advanceCommand,
  trafficCommand,
  trafficCommand,
  jumpWallCommand,
];

const policyArbitrary: fc.Arbitrary<CachePolicy> = fc.record({
  refreshAheadMs: fc.constantFrom(0, 30 * second, 5 * minute),
  refreshAheadJitter: fc.constantFrom(0, 0.2),
  minValidityMs: fc.constantFrom(0, 10 * second),
  requestTimeoutMs: fc.constantFrom(2 * second, 10 * second),
  retryBaseDelayMs: fc.constantFrom(50, second),
  retryMaxDelayMs: fc.constantFrom(8 * second, minute),
  failureCooldownMs: fc.constantFrom(0, 10 * second),
  lockWaitMs: fc.constant(5 * second),
  storeTimeoutMs: fc.constant(second),
  maxRefreshAheadMs: fc.constant(maxDurationMs),
});

/** The cache's source of randomness (jitter of the refresh window and of the backoff) returns this every time. */
const drawArbitrary = fc.constantFrom(0, 0.5, 0.999);

/** In the refresh window the gateway answers anything but a new token; calls come fast; time moves little. */
const refreshWindowGatewayCommand = fc
  .oneof(
    responseArbitrary.filter((response) => response.kind !== 'new'),
    // Extensions twice as often: with wall-clock jumps they are where expiries are easiest to misread.
    fc.record({
      kind: fc.constant('extend' as const),
      lifetimeMs: lifetimeArbitrary,
      delayMs: fc.constantFrom(0, 500),
      honoursSignal: fc.boolean(),
    }),
  )
  .map((response) =>
    command(`gateway(${JSON.stringify(response)})`, async (world) => {
      world.response = response;
    }),
  );

/** In the refresh window the gateway answers anything but a new token; calls come fast; time moves little. */
const refreshWindowCommandArbitraries: Array<fc.Arbitrary<ModelCommand>> = [
  getTokenCommand,
  refreshWindowGatewayCommand,
  refreshWindowGatewayCommand,
  fc.record({ calls: fc.integer({ min: 2, max: 100 }), everyMs: fc.constantFrom(10, 100, second) }).map(({ calls, everyMs }) =>
    command(`traffic(${calls} calls every ${everyMs} ms)`, async (world) => {
      for (let call = 0; call < calls; call += 1) {
        await world.callStep('getToken()', () => world.getToken({ forceRefresh: false, abortable: false }));
        await world.timeStep(everyMs);
      }
    }),
  ),
  fc
    .integer({ min: 1, max: 10 * second })
    .map((milliseconds) => command(`advance(${milliseconds})`, (world) => world.timeStep(milliseconds))),
  jumpWallCommand,
  jumpWallCommand,
];

/**
 * Runs the model over generated policies, random draws and command sequences (after `prefix`, if any), and prints
 * one summary line: the lead's RELIABILITY.md quotes these numbers.
 */
async function checkModel(
  name: string,
  options: {
    policy: fc.Arbitrary<CachePolicy>;
    commands: fc.Arbitrary<Iterable<ModelCommand>>;
    numRuns: number;
    prefix?: (world: World, lifetimeMs: number) => Promise<void>;
  },
): Promise<RunStatistics> {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  const statistics: RunStatistics = { runs: 0, commands: 0, lastRunCommands: 0, calls: 0, tokenRequests: 0 };
  try {
    await fc.assert(
      fc.asyncProperty(
        options.policy,
        drawArbitrary,
        fc.constantFrom(minute, 10 * minute, hour),
        options.commands,
        async (policy, draw, lifetimeMs, commands) => {
          vi.useFakeTimers({ now: start, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
          unhandled.length = 0;
          const world = new World(policy, draw, unhandled);
          try {
            await options.prefix?.(world, lifetimeMs);
            await fc.asyncModelRun(() => ({ model: {}, real: world }), commands);
          } finally {
            statistics.runs += 1;
            statistics.commands += world.commands;
            statistics.lastRunCommands = world.commands;
            statistics.calls += world.callers.length;
            statistics.tokenRequests += world.requestsStarted;
            vi.clearAllTimers();
            vi.useRealTimers();
          }
        },
      ),
      { numRuns: options.numRuns, seed },
    );
  } finally {
    process.off('unhandledRejection', onUnhandled);
    console.log(
      `${name}: seed ${seed}, ${statistics.runs} runs, ${statistics.commands} commands ` +
        `(${statistics.lastRunCommands} in the last run), ${statistics.calls} getToken calls, ${statistics.tokenRequests} token requests`,
    );
  }
  return statistics;
}

/** Lets real I/O (the loopback sockets) run, without moving fake time, until `condition` holds or time is up. */
async function waitFor(condition: () => boolean, milliseconds: number): Promise<boolean> {
  const deadline = performance.now() + milliseconds;
  while (!condition()) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return true;
}

/** One cache over the loopback token server, one call at a time. */
interface LoopbackWorld {
  readonly server: TestTokenServer;
  readonly cache: TokenCache;
  readonly clock: FakeTimersClock;
  readonly policy: Readonly<CachePolicy>;
  readonly unhandled: unknown[];
  readonly handedOut: AccessToken[];
  /** Token requests the provider started, counted client side. */
  requestsStarted: number;
  commands: number;
}

type LoopbackCommand = fc.AsyncCommand<object, LoopbackWorld>;

function loopbackCommand(name: string, run: (world: LoopbackWorld) => Promise<void>): LoopbackCommand {
  return {
    check: () => true,
    run: async (_model, world) => {
      world.commands += 1;
      await run(world);
      if (world.unhandled.length > 0) throw new Error(`Unhandled rejection: ${inspect(world.unhandled[0])}`);
    },
    toString: () => name,
  };
}

/** Calls getToken, lets the sockets and (in steps) fake time run until it settles, and checks what it got. */
async function callOverLoopback(world: LoopbackWorld): Promise<void> {
  const { cache, clock, policy, server } = world;
  const requestsBefore = world.requestsStarted;
  const startedAt = clock.monotonic();
  const caller: { settled: boolean; settledAt?: number; value?: AccessToken; error?: unknown } = { settled: false };
  cache.getToken().then(
    (value) => Object.assign(caller, { settled: true, settledAt: clock.monotonic(), value }),
    (error: unknown) => Object.assign(caller, { settled: true, settledAt: clock.monotonic(), error }),
  );
  const step = 500;
  // A held request (the server's delay, a hang) only moves on with fake time; the rest with real I/O.
  while (!(await waitFor(() => caller.settled, 20)) && clock.monotonic() - startedAt < policy.requestTimeoutMs) {
    await vi.advanceTimersByTimeAsync(step);
  }
  if (!(await waitFor(() => caller.settled, 2_000))) throw new Error('getToken() did not settle after requestTimeoutMs');
  if (caller.settledAt! - startedAt > policy.requestTimeoutMs + step) {
    throw new Error(`getToken() settled ${caller.settledAt! - startedAt} ms after the call (requestTimeoutMs ${policy.requestTimeoutMs})`);
  }
  if (world.requestsStarted - requestsBefore > 1)
    throw new Error(`one call started ${world.requestsStarted - requestsBefore} token requests`);
  if (caller.value !== undefined) {
    const left = caller.value.expiresAt - clock.now();
    if (!server.validTokens.has(caller.value.accessToken)) throw new Error('getToken() returned a token the server never issued');
    if (left < policy.minValidityMs) throw new Error(`getToken() returned a token with ${left} ms left`);
    world.handedOut.push(caller.value);
    return;
  }
  if (!isAuthError(caller.error)) throw new Error(`getToken() failed with an untyped error: ${inspect(caller.error)}`);
  if (containsCanary(caller.error.message)) throw new Error('getToken() failed with an error naming a token');
}

const loopbackCommands: Array<fc.Arbitrary<LoopbackCommand>> = [
  fc.constant(loopbackCommand('getToken()', callOverLoopback)),
  fc.constant(loopbackCommand('getToken()', callOverLoopback)),
  fc
    .record({
      mode: fc.constantFrom<TestTokenServer['mode']>('ok', 'same', 'extend', 503, 401, 'reset', 'hang'),
      delayMs: fc.constantFrom(0, 0, 500, 3_000),
      lifetimeMs: fc.constantFrom(15 * second, minute, hour),
    })
    .map((settings) =>
      loopbackCommand(`server(${JSON.stringify(settings)})`, async ({ server }) => {
        Object.assign(server, settings);
      }),
    ),
  durationArbitrary.map((milliseconds) =>
    loopbackCommand(`advance(${milliseconds})`, async () => {
      await vi.advanceTimersByTimeAsync(milliseconds);
    }),
  ),
  fc.constantFrom('window' as const, 'edge' as const, 'past-edge' as const).map((point) =>
    loopbackCommand(`advanceTo(${point})`, async ({ clock, handedOut, policy }) => {
      // Without wall-clock jumps the server's expiry is the truth: time to where the cache's behaviour changes.
      const token = handedOut.at(-1);
      if (token === undefined) return;
      const left = { window: policy.minValidityMs + 2 * second, edge: policy.minValidityMs + 1, 'past-edge': policy.minValidityMs - 1 }[
        point
      ];
      const milliseconds = token.expiresAt - left - clock.now();
      if (milliseconds > 0) await vi.advanceTimersByTimeAsync(milliseconds);
    }),
  ),
  fc.constant(
    loopbackCommand('invalidate(latest)', async ({ cache, handedOut }) => {
      const token = handedOut.at(-1);
      if (token !== undefined) await cache.invalidate(token.accessToken);
    }),
  ),
];

/** What the gateway does in the shared-store property: new tokens, failures, hangs. */
type SharedGatewayResponse = { kind: 'new'; lifetimeMs: number; delayMs: number } | { kind: 'fail'; delayMs: number } | { kind: 'hang' };

/** One process: a cache on the shared store, and what its callers got. */
interface SharedProcess {
  readonly index: number;
  readonly cache: TokenCache;
  readonly callers: Array<{ startedAt: number; settled: boolean; settledAt?: number; value?: AccessToken; error?: unknown }>;
  readonly handedOut: string[];
  requestsInFlight: number;
  /** Set when this process's wait for the lock holder ended without a token (or the lock failed). */
  gaveUpWaiting: boolean;
  /** Whether the request in flight was made without the lock, after giving up on the holder. */
  askingWithoutLock: boolean;
  /** Whether the request in flight overlapped the other process's: both may present one refresh token. */
  overlapped: boolean;
}

/**
 * Two processes sharing one token through one in-memory store with its lock, over one scripted gateway. No
 * wall-clock jumps here: the store holds wall-clock expiries, which no process can read right across a jump.
 */
class SharedStoreWorld {
  readonly clock = createFakeTimersClock();
  readonly policy: Readonly<CachePolicy>;
  readonly processes: SharedProcess[];
  /** Ground truth: monotonic deadline of every token the gateway issued. */
  readonly deadlines = new Map<string, number>();
  readonly violations: string[] = [];
  response: SharedGatewayResponse = { kind: 'new', lifetimeMs: hour, delayMs: 0 };
  commands = 0;
  #issuedTokens = 0;
  /**
   * The gateway's one refresh token not yet spent (PortOne V2 rotates them: every login or refresh spends the last).
   * Presenting a spent one is refused, and is a violation unless two requests overlapped (only a process that gave up
   * on the lock asks beside the holder).
   */
  #liveState: string | undefined;
  readonly #unhandled: unknown[];

  constructor(policy: CachePolicy, unhandled: unknown[], waking: boolean) {
    this.policy = resolveCachePolicy('model', policy);
    this.#unhandled = unhandled;
    const memory = createMemoryTokenStore({ clock: this.clock });
    const store = waking ? createWakingStore(memory, this.clock) : memory;
    this.processes = [0, 1].map((index) => {
      const process: SharedProcess = {
        index,
        callers: [],
        handedOut: [],
        requestsInFlight: 0,
        gaveUpWaiting: false,
        askingWithoutLock: false,
        overlapped: false,
        cache: createTokenCache(
          {
            provider: 'model',
            cacheKey: 'model:shared',
            baseUrl: 'https://gateway.test',
            requestToken: (context) => this.#requestToken(process, context),
          },
          {
            clock: this.clock,
            store,
            policy,
            random: () => 0.5,
            onEvent: (event) => {
              // A waiter that took the lock over asks under it; one that gave up asks beside the holder.
              if (
                (event.type === 'lock-waited' && !event.received && event.lockTaken !== true) ||
                (event.type === 'store-error' && event.operation === 'lock')
              ) {
                process.gaveUpWaiting = true;
              }
            },
          },
        ),
      };
      return process;
    });
  }

  getToken(process: SharedProcess, forceRefresh = false): void {
    const caller: SharedProcess['callers'][number] = { startedAt: this.clock.monotonic(), settled: false };
    process.callers.push(caller);
    process.cache.getToken({ forceRefresh }).then(
      (value) => {
        Object.assign(caller, { settled: true, settledAt: this.clock.monotonic(), value });
        process.handedOut.push(value.accessToken);
      },
      (error: unknown) => Object.assign(caller, { settled: true, settledAt: this.clock.monotonic(), error }),
    );
  }

  async step(action: () => Promise<void> | void): Promise<void> {
    await action();
    await flush();
    this.check();
  }

  check(): void {
    const now = this.clock.monotonic();
    const { lockWaitMs, minValidityMs, requestTimeoutMs } = this.policy;
    if (this.violations.length > 0) throw new Error(this.violations.join('\n'));
    if (this.#unhandled.length > 0) throw new Error(`Unhandled rejection: ${inspect(this.#unhandled[0])}`);
    for (const process of this.processes) {
      for (const [id, caller] of process.callers.entries()) {
        const who = `process ${process.index}, caller #${id}`;
        if (!caller.settled) {
          // At worst the process waits out the lock holder, then makes its own request.
          if (now - caller.startedAt > lockWaitMs + requestTimeoutMs)
            throw new Error(`${who} still waits ${now - caller.startedAt} ms after its call`);
          continue;
        }
        if (caller.value !== undefined) {
          const deadline = this.deadlines.get(caller.value.accessToken);
          if (deadline === undefined) throw new Error(`${who} got a token the gateway never issued`);
          if (deadline - caller.settledAt! < minValidityMs)
            throw new Error(`${who} got a token with ${deadline - caller.settledAt!} ms left`);
        } else if (!isAuthError(caller.error)) {
          throw new Error(`${who} got an untyped error: ${inspect(caller.error)}`);
        }
      }
      process.callers.splice(0, process.callers.length, ...process.callers.filter((caller) => !caller.settled));
    }
  }

  #requestToken(process: SharedProcess, { signal, now, state }: TokenRequestContext): Promise<ProviderToken> {
    if (process.requestsInFlight > 0) this.violations.push(`process ${process.index} has two token requests in flight`);
    const other = this.processes.find((candidate) => candidate !== process);
    // The store's lock lets one process ask at a time; only a process that gave up waiting for the holder (after
    // lockWaitMs, or on a failing store) asks without it, so two requests at once need one of those.
    if (other !== undefined && other.requestsInFlight > 0 && !process.gaveUpWaiting && !other.askingWithoutLock) {
      this.violations.push(`processes ${other.index} and ${process.index} asked the gateway at once, both under the lock`);
    }
    process.askingWithoutLock = process.gaveUpWaiting;
    process.gaveUpWaiting = false;
    process.overlapped = other !== undefined && other.requestsInFlight > 0;
    if (other !== undefined && process.overlapped) other.overlapped = true;
    process.requestsInFlight += 1;
    let open = true;
    const close = (): void => {
      if (open) process.requestsInFlight -= 1;
      open = false;
    };
    signal.addEventListener('abort', close, { once: true });
    const response = this.response;
    return new Promise((resolve, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      if (response.kind === 'hang') return;
      setTimeout(() => {
        if (signal.aborted) return;
        close();
        if (response.kind === 'fail') {
          reject(
            new TokenRequestError('Token request failed with status 503', {
              provider: 'model',
              reason: 'http',
              retryable: true,
              status: 503,
            }),
          );
          return;
        }
        if (state !== undefined && state !== this.#liveState) {
          if (!process.overlapped) this.violations.push(`process ${process.index} presented a refresh token already spent`);
          reject(new TokenRequestError('refresh token spent', { provider: 'model', reason: 'rejected', retryable: false, status: 401 }));
          return;
        }
        this.#issuedTokens += 1;
        const accessToken = `${canaryMarker}-shared-token-${this.#issuedTokens}`;
        this.#liveState = `${canaryMarker}-refresh-${this.#issuedTokens}`;
        this.deadlines.set(accessToken, this.clock.monotonic() + response.lifetimeMs);
        resolve({ accessToken, expiresAt: now() + response.lifetimeMs, state: this.#liveState });
      }, response.delayMs);
    });
  }
}

type SharedStoreCommand = fc.AsyncCommand<object, SharedStoreWorld>;

function sharedStoreCommand(name: string, run: (world: SharedStoreWorld) => Promise<void>): SharedStoreCommand {
  return {
    check: () => true,
    run: async (_model, world) => {
      world.commands += 1;
      await run(world);
    },
    toString: () => name,
  };
}

const sharedStoreGetTokenCommand = fc
  .constantFrom(0, 1)
  .map((index) => sharedStoreCommand(`getToken(process ${index})`, (world) => world.step(() => world.getToken(world.processes[index]!))));

const sharedStoreCommands: Array<fc.Arbitrary<SharedStoreCommand>> = [
  sharedStoreGetTokenCommand,
  sharedStoreGetTokenCommand,
  // A forced refresh (as after a 401) skips the other process's token, not the refresh token it left.
  fc
    .constantFrom(0, 1)
    .map((index) =>
      sharedStoreCommand(`getToken(process ${index}, forced)`, (world) => world.step(() => world.getToken(world.processes[index]!, true))),
    ),
  fc
    .oneof(
      fc.record({
        kind: fc.constant('new' as const),
        lifetimeMs: lifetimeArbitrary,
        delayMs: fc.constantFrom(0, 500, 3 * second, 7 * second),
      }),
      fc.record({ kind: fc.constant('fail' as const), delayMs: fc.constantFrom(0, 500) }),
      fc.record({ kind: fc.constant('hang' as const) }),
    )
    .map((response) =>
      sharedStoreCommand(`gateway(${JSON.stringify(response)})`, async (world) => {
        world.response = response;
      }),
    ),
  fc
    .oneof(durationArbitrary, fc.integer({ min: 1, max: 6 * second }))
    .map((milliseconds) =>
      sharedStoreCommand(`advance(${milliseconds})`, (world) =>
        world.step(() => vi.advanceTimersByTimeAsync(milliseconds).then(() => undefined)),
      ),
    ),
  fc.constantFrom(0, 1).map((index) =>
    sharedStoreCommand(`invalidate(process ${index}, latest)`, async (world) => {
      const process = world.processes[index]!;
      const token = process.handedOut.at(-1);
      if (token !== undefined) await world.step(() => process.cache.invalidate(token));
    }),
  ),
];

describe('token cache (model-based)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('should keep every invariant over random calls, aborts, invalidations, gateway answers and time', async () => {
    const statistics = await checkModel('token-cache model', {
      policy: policyArbitrary,
      commands: fc.commands(commandArbitraries, { maxCommands, size: 'max' }),
      numRuns,
    });
    expect(statistics.runs).toBeGreaterThanOrEqual(numRuns);
  }, 120_000);

  it('should keep background refreshes within the backoff while a held token is refreshed in vain', async () => {
    // Starts every run in the refresh window of a held token, where refresh loops would show.
    const statistics = await checkModel('token-cache refresh-window model', {
      policy: policyArbitrary.filter((policy) => policy.refreshAheadMs > 0),
      commands: fc.commands(refreshWindowCommandArbitraries, { maxCommands: refreshWindowMaxCommands, size: 'max' }),
      numRuns: refreshWindowRuns,
      prefix: async (world, lifetimeMs) => {
        world.response = { kind: 'new', lifetimeMs, delayMs: 0, honoursSignal: true };
        await world.callStep('getToken()', () => world.getToken({ forceRefresh: false, abortable: false }));
        const { minValidityMs, refreshAheadMs } = world.policy;
        await world.timeStep(Math.max(1, lifetimeMs - minValidityMs - Math.min(refreshAheadMs, lifetimeMs / 2) / 4));
      },
    });
    expect(statistics.runs).toBeGreaterThanOrEqual(refreshWindowRuns);
  }, 120_000);

  it('should keep its invariants when two processes share one token through a store with a lock', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    let runs = 0;
    let commandsRun = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          policyArbitrary,
          fc.commands(sharedStoreCommands, { maxCommands: sharedStoreMaxCommands, size: 'max' }),
          // Half the runs on a store that wakes its waiters (`waitForUnlock`), half on one they poll.
          fc.boolean(),
          async (policy, commands, waking) => {
            vi.useFakeTimers({ now: start, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
            unhandled.length = 0;
            const world = new SharedStoreWorld(policy, unhandled, waking);
            try {
              await fc.asyncModelRun(() => ({ model: {}, real: world }), commands);
            } finally {
              runs += 1;
              commandsRun += world.commands;
              vi.clearAllTimers();
              vi.useRealTimers();
            }
          },
        ),
        { numRuns: sharedStoreRuns, seed },
      );
    } finally {
      process.off('unhandledRejection', onUnhandled);
      console.log(`token-cache shared-store model: seed ${seed}, ${runs} runs, ${commandsRun} commands`);
    }
    expect(runs).toBeGreaterThanOrEqual(sharedStoreRuns);
  }, 120_000);

  it('should keep its invariants over the loopback token server', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    let runs = 0;
    let commandsRun = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.commands(loopbackCommands, { maxCommands: loopbackMaxCommands, size: 'max' }), async (commands) => {
          vi.useFakeTimers({ now: start, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
          unhandled.length = 0;
          const clock = createFakeTimersClock();
          const server = await startTestTokenServer({ now: () => clock.now() });
          const provider = testProvider(server);
          const policy = { requestTimeoutMs: 2 * second, refreshAheadJitter: 0 };
          const world: LoopbackWorld = {
            server,
            clock,
            policy: resolveCachePolicy('test', policy),
            unhandled,
            handedOut: [],
            requestsStarted: 0,
            commands: 0,
            cache: createTokenCache(
              {
                ...provider,
                requestToken: (context) => {
                  world.requestsStarted += 1;
                  return provider.requestToken(context);
                },
              },
              { clock, policy, random: () => 0.5 },
            ),
          };
          try {
            await fc.asyncModelRun(() => ({ model: {}, real: world }), commands);
          } finally {
            runs += 1;
            commandsRun += world.commands;
            vi.clearAllTimers();
            vi.useRealTimers();
            await server.close();
          }
        }),
        { numRuns: loopbackRuns, seed },
      );
    } finally {
      process.off('unhandledRejection', onUnhandled);
      console.log(`token-cache loopback model: seed ${seed}, ${runs} runs, ${commandsRun} commands`);
    }
  }, 120_000);
});
