/**
 * What the token layer publishes on `node:diagnostics_channel`, for tracers and metrics libraries to subscribe to
 * (`@x/opentelemetry` does). The module is reached through `process.getBuiltinModule`, never imported, so the main
 * entry still loads where there is no Node (Bun, Deno, Workers without Node compatibility); where it is absent,
 * nothing is published. Nothing is built for a channel nobody subscribes to.
 */
import type { AuthError } from './errors.js';
import type { TokenEvent, TokenRequestReason } from './token-events.js';

/**
 * The name of the `TracingChannel` around each token request (`tracing:x:token:request:start`, `…:end`,
 * `…:asyncStart`, `…:asyncEnd`, `…:error`), with a {@link TokenRequestMessage}. Its `start` event runs the request
 * inside the stores bound to it (`bindStore`), so a tracer's context reaches the provider's `fetch`.
 *
 * @example
 * import diagnostics from 'node:diagnostics_channel';
 * diagnostics.tracingChannel(tokenRequestChannelName).subscribe({
 *   start: (message) => console.log('asking', message.provider, message.reason),
 *   end() {},
 *   asyncStart() {},
 *   asyncEnd: (message) => console.log(message.error === undefined ? 'got a token' : message.error.code),
 *   error() {},
 * });
 * @category Diagnostics channels
 */
export const tokenRequestChannelName = 'x:token:request';

/**
 * The name of the channel that carries every {@link TokenEvent} of every cache, as a {@link TokenEventMessage}: what
 * `onEvent` receives, without having to pass a listener to each cache.
 *
 * @example
 * import diagnostics from 'node:diagnostics_channel';
 * diagnostics.subscribe(tokenEventChannelName, (event) => console.log(event.type, event.provider));
 * @category Diagnostics channels
 */
export const tokenEventChannelName = 'x:token:event';

/**
 * The name of the channel published when the bearer fetch or the undici interceptor sends an API request again:
 * after a 401 with a fresh token, or to follow a same-origin redirect. The request is sent inside the stores bound
 * to it (`bindStore`), with an {@link ApiResendMessage}, so a tracer can mark the HTTP span it starts (OpenTelemetry's
 * `http.request.resend_count`).
 *
 * @category Diagnostics channels
 */
export const apiResendChannelName = 'x:api:resend';

/**
 * One token request, as published on {@link tokenRequestChannelName}: the same object at each of its events. It
 * never holds the token: its `result` is never set.
 *
 * @category Diagnostics channels
 */
export interface TokenRequestMessage {
  /** Short name of the gateway. */
  readonly provider: string;
  /** The provider's non-secret cache key. */
  readonly cacheKey: string;
  /** Why the cache asked. */
  readonly reason: TokenRequestReason;
  /** The merchants sharing the cache's token (a registry's cache); empty for a cache of no registry. */
  readonly merchants: readonly string[];
  /** Set before the `error` event: why the request failed, a `TokenRequestError` or a `TokenResponseError`. */
  error?: AuthError;
}

/**
 * A {@link TokenEvent} as published on {@link tokenEventChannelName}, with the merchants sharing the cache's token
 * when the cache has them (a registry's).
 *
 * @category Diagnostics channels
 */
export type TokenEventMessage = TokenEvent & {
  /** Ids of the merchants that share the cache when the event happened (a frozen array); absent outside a registry. */
  readonly merchants?: readonly string[];
};

/**
 * An API request sent again, as published on {@link apiResendChannelName}.
 *
 * @category Diagnostics channels
 */
export interface ApiResendMessage {
  /** Short name of the gateway. */
  readonly provider: string;
  /** The provider's non-secret cache key. */
  readonly cacheKey: string;
  /** How many times this call has been sent again, this time included: 1 for the first resend. */
  readonly resendCount: number;
  /** Why: a 401 answered with a fresh token (`unauthorized`), or a same-origin redirect followed (`redirect`). */
  readonly reason: 'unauthorized' | 'redirect';
}

/** The part of a `node:diagnostics_channel` channel this module uses. */
interface Channel {
  readonly hasSubscribers: boolean;
  publish(message: unknown): void;
  runStores<T>(message: unknown, fn: () => T): T;
}

/** The part of a `TracingChannel` this module uses. */
interface TracingChannel {
  /** Undefined on Bun, which has it only on each of the five channels. */
  readonly hasSubscribers?: boolean | undefined;
  readonly start: Channel;
  readonly end: Channel;
  readonly asyncStart: Channel;
  readonly asyncEnd: Channel;
  readonly error: Channel;
}

/** The part of `node:diagnostics_channel` this module uses. */
export interface DiagnosticsChannelModule {
  channel(name: string): Channel;
  tracingChannel(name: string): TracingChannel;
}

/** What `globalThis` may have: `process.getBuiltinModule` since Node 20.16 and 22.3, on Bun, Deno and workerd. */
interface ProcessHost {
  readonly process?: { readonly getBuiltinModule?: ((name: string) => unknown) | undefined } | undefined;
}

/** `node:diagnostics_channel` where the runtime has it (with `TracingChannel`), else `undefined`; never throws. */
export function diagnosticsChannelOf(host: ProcessHost): DiagnosticsChannelModule | undefined {
  try {
    const candidate = host.process?.getBuiltinModule?.('node:diagnostics_channel') as Partial<DiagnosticsChannelModule> | undefined;
    if (typeof candidate?.channel !== 'function' || typeof candidate.tracingChannel !== 'function') return undefined;
    return candidate as DiagnosticsChannelModule;
  } catch {
    return undefined;
  }
}

/** The channels, looked up on first use and held here: Node holds a channel nobody subscribes to only weakly. */
interface Channels {
  readonly tokenRequest: TracingChannel;
  readonly tokenEvent: Channel;
  readonly apiResend: Channel;
}

let channels: Channels | null | undefined;

function channelsOf(): Channels | null {
  if (channels === undefined) {
    const diagnostics = diagnosticsChannelOf(globalThis as ProcessHost);
    channels =
      diagnostics === undefined
        ? null
        : {
            tokenRequest: diagnostics.tracingChannel(tokenRequestChannelName),
            tokenEvent: diagnostics.channel(tokenEventChannelName),
            apiResend: diagnostics.channel(apiResendChannelName),
          };
  }
  return channels;
}

function isTraced(channel: TracingChannel): boolean {
  return (
    channel.hasSubscribers ??
    (channel.start.hasSubscribers ||
      channel.end.hasSubscribers ||
      channel.asyncStart.hasSubscribers ||
      channel.asyncEnd.hasSubscribers ||
      channel.error.hasSubscribers)
  );
}

/**
 * Runs `request` (one token request, rejecting with an `AuthError`) inside the token request channel's events, as
 * `TracingChannel.tracePromise` would, except that the result (the token) is never put on the message. `message` is
 * built only when someone subscribes.
 */
export function traceTokenRequest<T>(message: () => TokenRequestMessage, request: () => Promise<T>): Promise<T> {
  const channel = channelsOf()?.tokenRequest;
  if (channel === undefined || !isTraced(channel)) return request();
  const context = message();
  const { start, end, asyncStart, asyncEnd, error } = channel;
  const settled = (): void => {
    asyncStart.publish(context);
    asyncEnd.publish(context);
  };
  return start.runStores(context, () => {
    try {
      return request().then(
        (result) => {
          settled();
          return result;
        },
        (failure: unknown) => {
          context.error = failure as AuthError;
          error.publish(context);
          settled();
          throw failure;
        },
      );
    } catch (failure) {
      context.error = failure as AuthError;
      error.publish(context);
      throw failure;
    } finally {
      end.publish(context);
    }
  });
}

/** Whether anyone subscribes to the token event channel: the cache builds an event only for a listener or for it. */
export function tokenEventsObserved(): boolean {
  return channelsOf()?.tokenEvent.hasSubscribers === true;
}

/** Publishes `event` on the token event channel, with the cache's merchants when it has them. */
export function publishTokenEvent(event: TokenEvent, merchants: (() => readonly string[]) | undefined): void {
  const channel = channelsOf()?.tokenEvent;
  if (channel === undefined || !channel.hasSubscribers) return;
  try {
    channel.publish(merchants === undefined ? { ...event } : { ...event, merchants: frozen(merchants()) });
  } catch {
    // Node reports a subscriber's exception on its own; a runtime that throws it here must not break authentication.
  }
}

/** Sends an API request again (`send`) inside the resend channel's stores, when anyone subscribes or binds one. */
export function resend<T>(message: () => ApiResendMessage, send: () => T): T {
  const channel = channelsOf()?.apiResend;
  if (channel === undefined || !channel.hasSubscribers) return send();
  return channel.runStores(message(), send);
}

/** `ids` as a frozen array (the registry's snapshots already are). */
export function frozen(ids: readonly string[]): readonly string[] {
  return Object.isFrozen(ids) ? ids : Object.freeze([...ids]);
}
