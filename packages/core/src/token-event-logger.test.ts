import { Writable } from 'node:stream';
import { advanceFakeTime as advance, createFakeTimersClock, type FakeTimersClock, untilIo as until } from '@x/test-support/clock';
import { startTestTokenServer, type TestTokenServer, testProvider } from '@x/test-support/token-server';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import winston from 'winston';
import {
  createMemoryTokenStore,
  createMerchantRegistry,
  createTokenCache,
  createTokenEventLogger,
  isConfigurationError,
  type TokenEvent,
  type TokenEventLoggerOptions,
  type TokenStore,
} from './index.js';
import { cacheKeyOf } from './provider/index.js';
import { containsCanary, createCanary } from './testing/index.js';

const hour = 3_600_000;
const minute = 60_000;
const start = Date.UTC(2025, 0, 1);

let server: TestTokenServer;
let clock: FakeTimersClock;
/** What pino (or winston) wrote, one JSON line each. */
let lines: string[];

beforeEach(async () => {
  vi.useFakeTimers({ now: start, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  clock = createFakeTimersClock();
  server = await startTestTokenServer({ now: () => clock.now() });
  lines = [];
});

afterEach(async () => {
  await server.close();
  vi.useRealTimers();
});

/** A pino logger at `debug` writing to `lines` (synchronously: a plain object with `write` is its destination). */
function pinoLogger() {
  return pino({ level: 'debug', base: undefined, timestamp: false }, { write: (line: string) => lines.push(line) });
}

type Logged = Record<string, unknown> & { level: number | string; msg?: string; message?: string; event: string };
const logged = (): Logged[] => lines.map((line) => JSON.parse(line) as Logged);
/** pino's numbers for its levels. */
const pinoLevel = { debug: 20, info: 30, warn: 40, error: 50 } as const;

/** A store whose every call fails with an error quoting a canary, as a client's error may quote a connection string. */
function failingStore(secret: string): TokenStore {
  const fail = async (): Promise<never> => {
    throw new Error(`connection to redis://:${secret}@cache.internal:6379 refused`);
  };
  return { get: fail, set: fail, delete: fail };
}

function loggingCache(options: TokenEventLoggerOptions = {}, store: TokenStore = createMemoryTokenStore({ clock })) {
  return createTokenCache(testProvider(server), {
    clock,
    store,
    random: () => 0,
    onEvent: createTokenEventLogger(pinoLogger(), options),
  });
}

describe('createTokenEventLogger', () => {
  it('should log each event at its level with its fields: a request and a token, a failed refresh, a rejection', async () => {
    const cache = loggingCache();
    const { accessToken } = await cache.getToken();
    await advance(hour - 2 * minute);
    server.mode = 503;
    await cache.getToken();
    await until(() => lines.length === 5, 'the failed refresh');
    server.mode = 401;
    await advance(2 * minute);
    await cache.getToken().catch(() => undefined);
    await cache.invalidate(accessToken);

    expect(logged().map(({ level, event, msg }) => [level, event, msg])).toEqual([
      [pinoLevel.debug, 'token-requested', 'token requested'],
      [pinoLevel.info, 'token-refreshed', 'token refreshed'],
      [pinoLevel.debug, 'token-requested', 'token requested'],
      [pinoLevel.warn, 'token-request-failed', 'token request failed'],
      [pinoLevel.warn, 'token-served-stale', 'token served stale after a failed refresh'],
      [pinoLevel.debug, 'token-requested', 'token requested'],
      [pinoLevel.error, 'token-request-failed', 'token request failed'],
      [pinoLevel.warn, 'token-invalidated', 'token invalidated'],
    ]);
    const [, refreshed, , failed, stale, , rejected] = logged();
    expect(refreshed).toEqual({
      level: pinoLevel.info,
      msg: 'token refreshed',
      event: 'token-refreshed',
      provider: 'test',
      cacheKey: `test:${server.url}`,
      source: 'provider',
      extended: false,
      fingerprint: expect.stringMatching(/^[0-9a-f]+$/),
      expiresInMs: hour,
      durationMs: 0,
    });
    expect(failed).toMatchObject({
      retryable: true,
      error: { name: 'TokenRequestError', code: 'X_TOKEN_REQUEST_FAILED', reason: 'http', status: 503, retryable: true },
    });
    expect(stale).toMatchObject({ remainingMs: 2 * minute, nextAttemptInMs: 100 });
    expect(rejected).toMatchObject({ retryable: false, cooldownMs: 10_000, error: { reason: 'rejected', status: 401 } });
  });

  it('should name the merchants of a registry event', async () => {
    const registry = createMerchantRegistry({
      providers: { test: (settings: { apiKey: string }) => testProvider(server, { cacheKey: cacheKeyOf('test', [settings.apiKey]) }) },
      merchants: { 'shop-a': { provider: 'test', apiKey: 'one' }, 'shop-b': { provider: 'test', apiKey: 'one' } },
      clock,
      onEvent: createTokenEventLogger(pinoLogger()),
    });
    await registry.warm(['shop-a', 'shop-b']);
    expect(logged().map(({ event, merchants }) => [event, merchants])).toEqual([
      ['token-requested', ['shop-a', 'shop-b']],
      ['token-refreshed', ['shop-a', 'shop-b']],
    ]);
  });

  it('should take levels by event type over the defaults: a level, silent, or a function of the event', async () => {
    const cache = loggingCache({
      levels: {
        'token-requested': 'silent',
        'token-refreshed': 'debug',
        'token-request-failed': (event) => (event.retryable ? 'info' : 'warn'),
      },
    });
    await cache.getToken();
    server.mode = 503;
    await cache.getToken({ forceRefresh: true }).catch(() => undefined);
    expect(logged().map(({ level, event }) => [level, event])).toEqual([
      [pinoLevel.debug, 'token-refreshed'],
      [pinoLevel.info, 'token-request-failed'],
      [pinoLevel.warn, 'token-served-stale'],
    ]);
  });

  it("should log no token and no secret, even where an error's message or a store's quotes one", async () => {
    const storeSecret = createCanary('store-password-');
    const providerSecret = createCanary('provider-secret-');
    const base = testProvider(server);
    const cache = createTokenCache(
      {
        ...base,
        async requestToken(context) {
          if (server.mode === 'hang') throw new Error(`bad key ${providerSecret}`);
          return base.requestToken(context);
        },
      },
      { clock, store: failingStore(storeSecret), random: () => 0, onEvent: createTokenEventLogger(pinoLogger()) },
    );
    const events: TokenEvent[] = [];
    const raw = createTokenCache(testProvider(server), { clock, store: failingStore(storeSecret), onEvent: (event) => events.push(event) });

    const { accessToken } = await cache.getToken();
    await raw.getToken();
    server.mode = 'hang';
    await cache.getToken({ forceRefresh: true }).catch(() => undefined);
    await cache.invalidate(accessToken);
    server.mode = 401;
    await cache.getToken().catch(() => undefined);

    const output = lines.join('');
    expect(logged().map((line) => line.event)).toContain('store-error');
    expect(logged().find((line) => line.event === 'store-error')).toMatchObject({ operation: 'get', error: { name: 'Error' } });
    expect(containsCanary(output, [accessToken])).toBe(false);
    // The scan finds what logging the events' errors as pino's `err` would leak: the store's error quotes its password.
    const naive = pinoLogger();
    for (const event of events) if ('error' in event) naive.warn({ err: event.error }, event.type);
    expect(containsCanary(lines.join(''))).toBe(true);
  });

  it('should call a winston logger message first, with `argumentOrder`', async () => {
    const logger = winston.createLogger({
      level: 'debug',
      format: winston.format.json(),
      transports: [
        new winston.transports.Stream({
          stream: new Writable({
            write(chunk: Buffer, _encoding, done) {
              lines.push(chunk.toString('utf8'));
              done();
            },
          }),
        }),
      ],
    });
    const cache = createTokenCache(testProvider(server), {
      clock,
      onEvent: createTokenEventLogger(logger, { argumentOrder: 'message-first' }),
    });
    await cache.getToken();
    await until(() => lines.length === 2, 'winston lines');
    expect(logged().map(({ level, message, event, provider }) => [level, message, event, provider])).toEqual([
      ['debug', 'token requested', 'token-requested', 'test'],
      ['info', 'token refreshed', 'token-refreshed', 'test'],
    ]);
  });

  it('should refuse a logger without the level methods and levels it cannot use, every problem at once', () => {
    let error: unknown;
    try {
      createTokenEventLogger({ info() {} } as never, {
        levels: { 'token-refreshed': 'loud' as never, 'no-such-event': 'info' } as never,
        argumentOrder: 'backwards' as never,
      });
    } catch (caught) {
      error = caught;
    }
    expect(isConfigurationError(error)).toBe(true);
    expect(error).toMatchObject({
      issues: [
        { path: 'logger.debug' },
        { path: 'logger.warn' },
        { path: 'logger.error' },
        { path: 'levels.token-refreshed' },
        { path: 'levels.no-such-event' },
        { path: 'argumentOrder' },
      ],
    });
  });
});
