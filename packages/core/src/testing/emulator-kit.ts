import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { inspect } from 'node:util';
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
  /**
   * Asked about every request no queued fault answers; a fault it returns answers that request (its `target` and
   * `count` are ignored). For soaks: return a random fault for a share of the requests.
   */
  injectFault?: ((target: Target, request: IncomingMessage) => EmulatorFault<Target> | undefined) | undefined;
}

/** What every running emulator offers, whatever its gateway. */
export interface Emulator<Target extends string, Counters extends Record<string, number>, Credentials extends object> {
  /** `http://127.0.0.1:<port>`: use it as the provider's `baseUrl`. */
  readonly url: string;
  /** The first merchant's credentials. */
  readonly defaultMerchant: Credentials;
  /** Every accepted merchant's credentials. */
  readonly merchants: readonly Credentials[];
  /** Accepts one more merchant's credentials. */
  addMerchant(credentials: Credentials): void;
  /** Totals over all merchants since start (or `resetCounters`). */
  readonly counters: Readonly<Counters>;
  /** One merchant's counters, by its id. */
  countersFor(merchantId: string): Readonly<Counters>;
  /** Sets every counter, total and per merchant, back to zero, and forgets the requests seen. */
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
  /** Starts the server; `extra` (getters and setters included) joins the returned handle. */
  start<Extra extends object>(extra: Extra): Promise<Emulator<Target, Counters, Credentials> & Extra>;
}

/**
 * The shared part of every gateway emulator: a loopback server with a bounded body reader, one fault vocabulary
 * ({@link EmulatorFault}, `count` 1 unless given), counters in total and per merchant, credential sets, a settable
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

  const merchants = new Map<string, { credentials: Credentials; counters: Counters }>();
  const addMerchant = (credentials: Credentials): void => {
    merchants.set(definition.merchantId(credentials), { credentials: { ...credentials }, counters: emptyCounters() });
  };
  for (const credentials of definition.merchants) addMerchant(credentials);
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
      seen.push({ target, method: request.method ?? 'GET', path: request.url ?? '/', headers, bodyLength: body.length });
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
    merchant: (merchantId) => merchants.get(merchantId)?.credentials,
    get counters() {
      return { ...totals };
    },
    countersFor: (merchantId) => ({ ...(merchants.get(merchantId)?.counters ?? emptyCounters()) }),
    resetCounters() {
      totals = emptyCounters();
      seen = [];
      for (const merchant of merchants.values()) merchant.counters = emptyCounters();
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
      const loopback = await listenOnLoopback(server);
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
          if (!['count', 'merchant', 'start'].includes(key) || source === extra) Object.defineProperty(emulator, key, descriptor);
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
      'content-type': answer.contentType ?? 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
    })
    .end(text);
}
