import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { inspect } from 'node:util';
import { ConfigurationError } from '../errors.js';
import { fingerprint } from '../fingerprint.js';
import { answerEmulatorFault, type EmulatorFault, type EmulatorFaultBodies, validateEmulatorFault } from './emulator-fault.js';
import { listenOnLoopback } from './loopback-server.js';
import { readRequestBody } from './request-body.js';

/** One request as an emulator received it. Holds credentials: for assertions, not for logs. */
export interface EmulatorSeenRequest<Target extends string = string> {
  /** The route's target, e.g. `token`. */
  target: Target;
  /** HTTP method. */
  method: string;
  /** Path and query, as received. */
  path: string;
  /** Header names in lower case, as Node reports them; repeated headers joined with `, `. */
  headers: Readonly<Record<string, string>>;
  /** Bytes of request body received. */
  bodyLength: number;
  /** The request body as UTF-8 text, e.g. a form's `grant_type=client_credentials`; `''` when there was none. */
  body: string;
}

/** A request handed to a gateway's routes, its body read. */
export interface EmulatorRequest {
  /** The request itself (for `injectFault` and the socket). */
  readonly request: IncomingMessage;
  /** HTTP method. */
  readonly method: string;
  /** The path, without the query. */
  readonly path: string;
  /** Header names in lower case; repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  /** The request body (at most `emulatorMaxRequestBytes`). */
  readonly body: Buffer;
}

/** A gateway's normal answer, sent as JSON. */
export interface EmulatorAnswer {
  /** HTTP status. */
  status: number;
  /** The body, sent as JSON. */
  body: unknown;
  /** The `content-type`. @default 'application/json; charset=utf-8' */
  contentType?: string | undefined;
  /**
   * More response headers, e.g. a gateway's request id (`paypal-debug-id`) or an RFC 6750 `WWW-Authenticate`
   * challenge. They cannot replace `content-type` or `content-length`. @default {}
   */
  headers?: Readonly<Record<string, string>> | undefined;
}

/** Where a request goes, as a gateway's `route` decides. */
export interface EmulatorRoute<Target extends string> {
  /** The targets a queued fault may name to fail this request, most specific first; `[]`: no fault applies. */
  targets: readonly Target[];
  /** Counted and logged under this target. @default targets[0] (nothing when there is none) */
  target?: Target | undefined;
  /** The merchant the request is for, by id; its `faults` counter counts a fault. */
  merchantId?: string | undefined;
  /** The normal answer; not called when a fault answers instead (a `slow` fault calls it later). */
  answer(): EmulatorAnswer;
}

/**
 * One secret a merchant was given, as {@link Emulator.secretCountersFor} reports it: a position and a fingerprint,
 * never the secret itself.
 */
export interface EmulatorSecretCounters {
  /** The credential field it is a value of, e.g. `impSecret`. */
  field: string;
  /** Its position among the merchant's values of `field`, in the order they were added: 0 is the merchant's own. */
  index: number;
  /** The first 8 hex digits of its SHA-256 (`fingerprint` of `@x/core`): compare it, never the secret. */
  fingerprint: string;
  /** Whether {@link Emulator.revokeSecret} revoked it. */
  revoked: boolean;
  /** Token requests that presented it for this merchant, faulted or not. */
  tokenRequests: number;
  /** Those of them made after it was revoked (refused, unless a fault answered first). */
  revokedTokenRequests: number;
  /**
   * API calls that carried an unexpired token last handed out (issued, extended or given back unchanged) in answer to
   * a token request that presented it, faulted or not.
   */
  apiCalls: number;
  /**
   * Those of them made after it was revoked: a token of credentials the gateway no longer accepts, still in use. A
   * rotation that switched in time leaves this at 0 (the gateway accepts such a token until it expires).
   */
  revokedApiCalls: number;
}

/** What a presented secret is to the emulator: one the merchant holds, one it held until revoked, or neither. */
export type EmulatorSecretStatus = 'accepted' | 'revoked' | 'unknown';

/** A gateway's part of an emulator: its credentials, counters, fault bodies and routes. */
export interface EmulatorDefinition<Target extends string, Counters extends Record<string, number>, Credentials extends object> {
  /** The handle's name in `inspect` output, e.g. `IamportEmulator`. */
  name: string;
  /** The provider a `ConfigurationError` of `fault()` names. */
  provider: string;
  /** The target of a fault that names none. */
  defaultTarget: Target;
  /** Every counter, each starting at zero; `faults` is counted by the kit. */
  counterNames: readonly (keyof Counters & string)[];
  /** The accepted credentials; the first is the default merchant. */
  merchants: readonly Credentials[];
  /** A merchant's id, e.g. its API key: what `countersFor` takes. */
  merchantId(credentials: Credentials): string;
  /** The credential fields that hold secrets a merchant may hold several of at once; the first is what `addSecret` adds by default. */
  secretFields: readonly [keyof Credentials & string, ...(keyof Credentials & string)[]];
  /** The gateway's bytes for `status`, `malformed` and `truncated` faults. */
  faultBodies: EmulatorFaultBodies;
  /** Sends every request to its answer. Called once per request, before any fault is chosen: count here. */
  route(request: EmulatorRequest): EmulatorRoute<Target>;
}

/** Options every emulator takes. */
export interface EmulatorOptions<Target extends string> {
  /** The real time the emulator's clock is derived from; share it with the token cache's clock in tests. @default Date.now */
  now?: (() => number) | undefined;
  /** How far the emulated gateway's clock is ahead of `now()` (negative: behind). @default 0 */
  clockOffsetMs?: number | undefined;
  /** Keeps every request for `seen()`; a long soak turns it off to keep its heap flat. @default true */
  recordRequests?: boolean | undefined;
  /** The port to listen on; 0 picks a free one. @default 0 */
  port?: number | undefined;
  /**
   * The address to listen on; `0.0.0.0` or `::` for every interface (a standalone emulator in a container). `url`
   * stays a loopback address. @default '127.0.0.1'
   */
  host?: string | undefined;
  /**
   * Asked about every request no queued fault answers; a fault it returns answers that request (its `target` and
   * `count` are ignored). For soaks: return a random fault for a share of the requests.
   */
  injectFault?: ((target: Target, request: IncomingMessage) => EmulatorFault<Target> | undefined) | undefined;
}

/** What every running emulator offers, whatever its gateway. */
export interface Emulator<Target extends string, Counters extends Record<string, number>, Credentials extends object> {
  /** `http://127.0.0.1:<port>` (or the `host` it listens on): use it as the provider's `baseUrl`. */
  readonly url: string;
  /** The first merchant's credentials. */
  readonly defaultMerchant: Credentials;
  /** Every accepted merchant's credentials. */
  readonly merchants: readonly Credentials[];
  /** Accepts one more merchant's credentials (or replaces a merchant's, with their counters and extra secrets). */
  addMerchant(credentials: Credentials): void;
  /**
   * Lets a merchant's requests present one more value of a secret field (by default the gateway's main secret) besides
   * those it holds, as a gateway does while a rotated secret rolls out; adding a revoked value accepts it again.
   * Throws a `ConfigurationError` naming the merchant if there is no such merchant or `field` holds no secret. `merchants` keeps showing the
   * credentials the merchant was added with.
   */
  addSecret(merchantId: string, secret: string, field?: keyof Credentials & string): void;
  /**
   * Refuses one of a merchant's secrets from now on, as the gateway refuses a wrong one; tokens issued with it stay
   * valid until they expire or are revoked. Returns whether the merchant held that secret unrevoked.
   */
  revokeSecret(merchantId: string, secret: string, field?: keyof Credentials & string): boolean;
  /** How many token requests presented each of a merchant's secrets, by position and fingerprint. */
  secretCountersFor(merchantId: string): readonly EmulatorSecretCounters[];
  /** Totals over all merchants since start (or `resetCounters`). */
  readonly counters: Readonly<Counters>;
  /** One merchant's counters, by its id. */
  countersFor(merchantId: string): Readonly<Counters>;
  /** Sets every counter, total, per merchant and per secret, back to zero, and forgets the requests seen. */
  resetCounters(): void;
  /** The requests received (to `target`, or all), in order, unless `recordRequests` is off. */
  seen(target?: Target): readonly EmulatorSeenRequest<Target>[];
  /** The emulated gateway's clock, epoch milliseconds. */
  now(): number;
  /** Moves the emulated clock relative to the `now` option (e.g. 9 hours ahead: `32_400_000`). */
  setClockOffset(milliseconds: number): void;
  /** Queues a fault: the next `count` (default 1) requests to its `target` fail this way. */
  fault(fault: EmulatorFault<Target>): void;
  /** Drops every queued fault; `injectFault` still applies. */
  clearFaults(): void;
  /** Stops the server, dropping open connections, stalled requests and pending slow answers. */
  close(): Promise<void>;
}

/** The kit as a gateway's emulator uses it: the shared handle, plus counting and starting. */
export interface EmulatorKit<Target extends string, Counters extends Record<string, number>, Credentials extends object>
  extends Omit<Emulator<Target, Counters, Credentials>, 'url' | 'close'> {
  /** Counts one `counter`, in the totals (unless `total` is false) and, given a merchant id, that merchant's. */
  count(counter: keyof Counters & string, merchantId?: string, options?: { total?: boolean }): void;
  /** A merchant's credentials by id. */
  merchant(merchantId: string): Credentials | undefined;
  /** What `secret` is to a merchant, for `field`; counts nothing (for API calls and checks made twice). */
  secretStatus(merchantId: string | undefined, field: keyof Credentials & string, secret: string | undefined): EmulatorSecretStatus;
  /** The same, counted as a token request that presented `secret`: call it once per token request, in `route`. */
  presentSecret(merchantId: string | undefined, field: keyof Credentials & string, secret: string | undefined): EmulatorSecretStatus;
  /**
   * Notes that `accessToken` was just handed out to a merchant (issued, extended or given back unchanged) in answer to
   * a token request that presented `secrets`: API calls carrying it count against those of them the merchant holds,
   * until it is handed out again. `expiresAt` (the gateway's clock) lets the kit forget it once expired.
   */
  handOutToken(
    accessToken: string,
    merchantId: string,
    secrets: Readonly<Partial<Record<keyof Credentials & string, string | undefined>>>,
    expiresAt: number,
  ): void;
  /** Counts an API call that carries `accessToken` against the secrets it was last handed out for: once per API call, in `route`. */
  presentToken(accessToken: string | undefined): void;
  /** Starts the server; `extra` (getters and setters included) joins the returned handle. */
  start<Extra extends object>(extra: Extra): Promise<Emulator<Target, Counters, Credentials> & Extra>;
}

/**
 * The shared part of every gateway emulator: a loopback server with a bounded body reader, one fault vocabulary
 * ({@link EmulatorFault}, `count` 1 unless given), counters in total and per merchant, credential sets whose
 * secrets can be rotated (several valid at once, each revocable, each counted by fingerprint), a settable
 * clock, `close()`, and a handle whose `inspect` and `JSON.stringify` show only its address and counters. A gateway
 * adds its routes, token rules and error bodies.
 *
 * @example
 * const kit = createEmulatorKit(definition, options);
 * const emulator = await kit.start({ revoke });
 */
export function createEmulatorKit<Target extends string, Counters extends Record<string, number>, Credentials extends object>(
  definition: EmulatorDefinition<Target, Counters, Credentials>,
  options: EmulatorOptions<Target> = {},
): EmulatorKit<Target, Counters, Credentials> {
  const realNow = options.now ?? Date.now;
  let clockOffsetMs = options.clockOffsetMs ?? 0;
  const recordRequests = options.recordRequests ?? true;
  const emptyCounters = (): Counters => Object.fromEntries([...definition.counterNames, 'faults'].map((name) => [name, 0])) as Counters;

  interface HeldSecret extends EmulatorSecretCounters {
    secret: string;
  }
  const merchants = new Map<string, { credentials: Credentials; counters: Counters; secrets: HeldSecret[] }>();
  const holdSecret = (field: string, index: number, secret: string): HeldSecret => {
    const held = {
      field,
      index,
      fingerprint: fingerprint(secret),
      revoked: false,
      tokenRequests: 0,
      revokedTokenRequests: 0,
      apiCalls: 0,
      revokedApiCalls: 0,
    };
    // Non-enumerable, so that a held secret logged or serialized by mistake shows its counters only.
    return Object.defineProperty(held, 'secret', { value: secret }) as HeldSecret;
  };
  const addMerchant = (credentials: Credentials): void => {
    const secrets = definition.secretFields.flatMap((field) => {
      const value = credentials[field];
      return typeof value === 'string' && value !== '' ? [holdSecret(field, 0, value)] : [];
    });
    merchants.set(definition.merchantId(credentials), { credentials: { ...credentials }, counters: emptyCounters(), secrets });
  };
  const merchantFor = (merchantId: string) => {
    const merchant = merchants.get(merchantId);
    if (merchant === undefined) {
      throw new ConfigurationError({
        provider: definition.provider,
        merchant: merchantId,
        issues: [{ path: 'merchantId', message: 'the emulator has no merchant with this id' }],
      });
    }
    return merchant;
  };
  const findSecret = (merchantId: string | undefined, field: string, secret: string | undefined): HeldSecret | undefined => {
    if (merchantId === undefined || secret === undefined) return undefined;
    return merchants.get(merchantId)?.secrets.find((held) => held.field === field && held.secret === secret);
  };
  const fieldOrder = (field: string): number => (definition.secretFields as readonly string[]).indexOf(field);
  const statusOf = (held: HeldSecret | undefined): EmulatorSecretStatus =>
    held === undefined ? 'unknown' : held.revoked ? 'revoked' : 'accepted';
  for (const credentials of definition.merchants) addMerchant(credentials);

  /** The secrets each token was last handed out for, until it expires (`expiresAt`, the gateway's clock). */
  const handedOut = new Map<string, { secrets: HeldSecret[]; expiresAt: number }>();
  /** Expired tokens are swept when the map has doubled since the last sweep: amortised O(1) per token handed out. */
  let sweepAt = 1024;
  const sweepHandedOut = (): void => {
    const now = kit.now();
    for (const [token, entry] of handedOut) if (entry.expiresAt <= now) handedOut.delete(token);
    sweepAt = Math.max(1024, 2 * handedOut.size);
  };
  const defaultMerchant = [...merchants.values()][0]?.credentials;
  if (defaultMerchant === undefined) throw new RangeError('an emulator needs at least one merchant');

  let totals = emptyCounters();
  let seen: EmulatorSeenRequest<Target>[] = [];
  const count = (counter: keyof Counters & string, merchantId?: string, { total = true } = {}): void => {
    if (total) (totals as Record<string, number>)[counter]! += 1;
    const merchant = merchantId === undefined ? undefined : merchants.get(merchantId);
    if (merchant !== undefined) (merchant.counters as Record<string, number>)[counter]! += 1;
  };

  const faults: Array<{ fault: EmulatorFault<Target>; remaining: number }> = [];
  const takeFault = (route: EmulatorRoute<Target>, request: IncomingMessage): EmulatorFault<Target> | undefined => {
    if (route.targets.length === 0) return undefined;
    const index = faults.findIndex(({ fault }) => route.targets.includes(fault.target ?? definition.defaultTarget));
    if (index === -1) return options.injectFault?.(route.targets[0]!, request);
    const queued = faults[index]!;
    queued.remaining -= 1;
    if (queued.remaining <= 0) faults.splice(index, 1);
    return queued.fault;
  };
  const timers = new Set<NodeJS.Timeout>();

  const handle = (request: IncomingMessage, response: ServerResponse, body: Buffer): void => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const path = (request.url ?? '/').split('?')[0]!;
    const route = definition.route({ request, method: request.method ?? 'GET', path, headers, body });
    const target = route.target ?? route.targets[0];
    if (recordRequests && target !== undefined) {
      seen.push({
        target,
        method: request.method ?? 'GET',
        path: request.url ?? '/',
        headers,
        bodyLength: body.length,
        body: body.toString('utf8'),
      });
    }
    const normal = (): void => send(response, route.answer());
    const fault = takeFault(route, request);
    if (fault === undefined) return normal();
    count('faults' as keyof Counters & string, route.merchantId);
    answerEmulatorFault(fault, { response, socket: request.socket }, normal, definition.faultBodies, timers);
  };

  const kit: EmulatorKit<Target, Counters, Credentials> = {
    defaultMerchant,
    get merchants() {
      return [...merchants.values()].map(({ credentials }) => credentials);
    },
    addMerchant,
    addSecret(merchantId, secret, field = definition.secretFields[0]) {
      const merchant = merchantFor(merchantId);
      if (fieldOrder(field) === -1) {
        throw new ConfigurationError({
          provider: definition.provider,
          merchant: merchantId,
          issues: [{ path: 'field', message: `must be one of ${definition.secretFields.join(', ')}` }],
        });
      }
      const held = findSecret(merchantId, field, secret);
      if (held !== undefined) held.revoked = false;
      else merchant.secrets.push(holdSecret(field, merchant.secrets.filter((other) => other.field === field).length, secret));
    },
    revokeSecret(merchantId, secret, field = definition.secretFields[0]) {
      const held = findSecret(merchantId, field, secret);
      if (held === undefined || held.revoked) return false;
      held.revoked = true;
      return true;
    },
    secretCountersFor: (merchantId) =>
      [...(merchants.get(merchantId)?.secrets ?? [])]
        .sort((a, b) => fieldOrder(a.field) - fieldOrder(b.field) || a.index - b.index)
        .map(({ field, index, fingerprint, revoked, tokenRequests, revokedTokenRequests, apiCalls, revokedApiCalls }) => ({
          field,
          index,
          fingerprint,
          revoked,
          tokenRequests,
          revokedTokenRequests,
          apiCalls,
          revokedApiCalls,
        })),
    secretStatus: (merchantId, field, secret) => statusOf(findSecret(merchantId, field, secret)),
    presentSecret(merchantId, field, secret) {
      const held = findSecret(merchantId, field, secret);
      if (held !== undefined) {
        held.tokenRequests += 1;
        if (held.revoked) held.revokedTokenRequests += 1;
      }
      return statusOf(held);
    },
    handOutToken(accessToken, merchantId, secrets, expiresAt) {
      const held = Object.entries(secrets).flatMap(([field, secret]) => findSecret(merchantId, field, secret as string | undefined) ?? []);
      handedOut.delete(accessToken);
      handedOut.set(accessToken, { secrets: held, expiresAt });
      if (handedOut.size >= sweepAt) sweepHandedOut();
    },
    presentToken(accessToken) {
      const entry = accessToken === undefined ? undefined : handedOut.get(accessToken);
      // An expired token is refused whatever it was issued for; forgetting it is then only a matter of when.
      if (entry === undefined || entry.expiresAt <= kit.now()) return;
      for (const held of entry.secrets) {
        held.apiCalls += 1;
        if (held.revoked) held.revokedApiCalls += 1;
      }
    },
    merchant: (merchantId) => merchants.get(merchantId)?.credentials,
    get counters() {
      return { ...totals };
    },
    countersFor: (merchantId) => ({ ...(merchants.get(merchantId)?.counters ?? emptyCounters()) }),
    resetCounters() {
      totals = emptyCounters();
      seen = [];
      for (const merchant of merchants.values()) {
        merchant.counters = emptyCounters();
        for (const held of merchant.secrets) {
          held.tokenRequests = 0;
          held.revokedTokenRequests = 0;
          held.apiCalls = 0;
          held.revokedApiCalls = 0;
        }
      }
    },
    count,
    seen: (target) => (target === undefined ? [...seen] : seen.filter((request) => request.target === target)),
    now: () => realNow() + clockOffsetMs,
    setClockOffset(milliseconds) {
      clockOffsetMs = milliseconds;
    },
    fault(fault) {
      validateEmulatorFault(fault, definition.provider);
      faults.push({ fault, remaining: fault.count ?? 1 });
    },
    clearFaults() {
      faults.length = 0;
    },
    async start(extra) {
      const server = createServer((request, response) => readRequestBody(request, response, (body) => handle(request, response, body)));
      const loopback = await listenOnLoopback(server, { port: options.port, host: options.host });
      const emulator = {
        url: loopback.url,
        async close() {
          for (const timer of timers) clearTimeout(timer);
          timers.clear();
          await loopback.close();
        },
      };
      for (const source of [kit, extra]) {
        for (const [key, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(source))) {
          if (
            !['count', 'merchant', 'secretStatus', 'presentSecret', 'handOutToken', 'presentToken', 'start'].includes(key) ||
            source === extra
          )
            Object.defineProperty(emulator, key, descriptor);
        }
      }
      // The handle holds credentials (and, as requests arrive, what was sent): a log of it shows where it is and counts.
      const summary = () => ({ url: loopback.url, counters: kit.counters });
      Object.defineProperty(emulator, 'toJSON', { value: summary });
      Object.defineProperty(emulator, inspect.custom, { value: () => `${definition.name} ${inspect(summary())}` });
      return emulator as unknown as Emulator<Target, Counters, Credentials> & typeof extra;
    },
  };
  return kit;
}

function send(response: ServerResponse, answer: EmulatorAnswer): void {
  if (response.destroyed) return;
  const text = JSON.stringify(answer.body);
  response
    .writeHead(answer.status, {
      ...answer.headers,
      'content-type': answer.contentType ?? 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
    })
    .end(text);
}
