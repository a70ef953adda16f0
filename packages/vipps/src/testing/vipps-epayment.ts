/**
 * The ePayment API as the Vipps MobilePay emulator serves it, behind the token checks of `vipps-emulator.ts`: create,
 * get, event log, capture, cancel, refund and the test environment's force approve, with the payment states and
 * aggregate amounts of the ePayment guide, `Idempotency-Key` replay, and errors in the API's problem shape.
 *
 * Sources: the published OpenAPI description (ePayment API 1.4.1, `vippsas/vipps-epayment-api` `docs/epayment.v1.yml`),
 * the official SDK's generated types (`@vippsmobilepay/sdk` 2.4.2), the ePayment guide's operation pages and its
 * error list. What none of them shows is marked as inferred where it is decided, and in the package README's fidelity
 * table.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { ConfigurationError } from '@x/core';
import type { EmulatorAnswer, EmulatorRequest } from '@x/core/testing';

/** A payment's state, as `GET /epayment/v1/payments/{reference}` reports it. */
export type VippsPaymentState = 'CREATED' | 'ABORTED' | 'EXPIRED' | 'AUTHORIZED' | 'TERMINATED';

/** What the user does in the app with a payment that awaits them: approve it, abort it, or let it expire. */
export type VippsUserAction = 'approve' | 'abort' | 'expire';

/**
 * What the ePayment API makes of a reference no create call made: `'authorized'`, a 10 NOK payment the user already
 * approved (so any reference is a ready API call); `'not-found'`, `404 Reference not found` as the gateway answers.
 */
export type VippsUnknownPaymentReferences = 'authorized' | 'not-found';

/** Options of {@link VippsEmulator.actAsUser}. */
export interface VippsUserActionOptions {
  /** The sales unit whose payment it is; needed only when several sales units used the same reference. */
  merchantSerialNumber?: string | undefined;
}

type Currency = 'NOK' | 'DKK' | 'EUR';
type EventName = 'CREATED' | 'ABORTED' | 'EXPIRED' | 'CANCELLED' | 'CAPTURED' | 'REFUNDED' | 'AUTHORIZED' | 'TERMINATED';
type Operation = 'create' | 'get' | 'events' | 'capture' | 'cancel' | 'refund' | 'approve';

interface Amount {
  currency: Currency;
  value: number;
}

interface PaymentEvent {
  reference: string;
  pspReference: string;
  name: EventName;
  amount: Amount;
  timestamp: string;
  idempotencyKey: string | null;
  success: boolean;
}

interface Payment {
  reference: string;
  /** The sales unit the payment belongs to (its MSN, or the client id of a merchant that has none). */
  owner: string;
  merchantSerialNumber: string | undefined;
  amount: Amount;
  paymentMethodType: string;
  state: VippsPaymentState;
  /** Minor units; the currency is the payment's. */
  authorized: number;
  cancelled: number;
  captured: number;
  refunded: number;
  redirectUrl: string | undefined;
  metadata: Record<string, string> | null | undefined;
  /** The `profile.scope` asked for at create; the user's `sub` is shared once the payment is authorized. */
  profileScope: string | undefined;
  profileSub: string | undefined;
  createKey: string | null;
  events: PaymentEvent[];
}

/** Who makes an ePayment call, as the emulator's token checks found: the token's merchant and the sales unit. */
export interface VippsEpaymentCaller {
  /** The token's merchant's client id. */
  clientId: string;
  /** The call's `Merchant-Serial-Number`, else the merchant's own. */
  merchantSerialNumber: string | undefined;
}

/** The ePayment part of an emulator. */
export interface VippsEpayment {
  /** Answers an ePayment call whose token and subscription key the emulator has accepted. */
  answer(request: EmulatorRequest, caller: VippsEpaymentCaller): EmulatorAnswer;
  /** See {@link VippsEmulator.actAsUser}. */
  actAsUser(reference: string, action: VippsUserAction, options?: VippsUserActionOptions): VippsPaymentState;
}

const problemType = 'application/problem+json; charset=utf-8';
const currencies: readonly string[] = ['NOK', 'DKK', 'EUR'];
/** Minimum amounts, in minor units, of the guide's error list ("NOK 100 øre, DKK 1 øre, EUR 1 cent"). */
const minimumAmount: Readonly<Record<Currency, number>> = { NOK: 100, DKK: 1, EUR: 1 };
/** The OpenAPI description's `Amount.value` maximum. */
const maximumAmount = 65_000_000;
/**
 * The reference pattern as the gateway states it in its own 400 (the ePayment error guide's example); the OpenAPI
 * description of 1.4.1 still says `{8,50}`: the longer limit is the gateway's current one, so we accept it.
 */
const referencePattern = /^[a-zA-Z0-9-]{8,64}$/;
/** The OpenAPI description's `Idempotency-Key` `maxLength`. */
const idempotencyKeyMaxLength = 50;
const userFlows: readonly string[] = ['PUSH_MESSAGE', 'NATIVE_REDIRECT', 'WEB_REDIRECT', 'QR'];
/** The operations the OpenAPI description lists the `Idempotency-Key` header for (required there). */
const keyedOperations: ReadonlySet<Operation> = new Set(['create', 'capture', 'cancel', 'refund']);
const userActionStates: Readonly<Record<VippsUserAction, VippsPaymentState & EventName>> = {
  approve: 'AUTHORIZED',
  abort: 'ABORTED',
  expire: 'EXPIRED',
};

/**
 * Whether `path` belongs to the ePayment API (`/epayment/…`, in any case: the gateway routes paths
 * case-insensitively, as the official plugins' `/accessToken/get` shows, so we assume the same of this API).
 */
export function isVippsEpaymentPath(path: string): boolean {
  return path.toLowerCase().startsWith('/epayment/');
}

/**
 * Creates the ePayment state of one emulator: payments per sales unit, their events, and the answers given per
 * `Idempotency-Key`. `now` is the emulated gateway's clock.
 */
export function createVippsEpayment(options: { now: () => number; unknownReferences: VippsUnknownPaymentReferences }): VippsEpayment {
  const { now, unknownReferences } = options;
  const payments = new Map<string, Payment>();
  /** Answers given per sales unit and key, with the request they answered (operation, reference, canonical body). */
  const answered = new Map<string, { operation: Operation; reference: string; fingerprint: string; answer: EmulatorAnswer }>();
  /** When payments never created were "created and approved": the emulator's start, so every answer agrees. */
  const madeUpAt = new Date(now()).toISOString();
  let pspSequence = 0;

  const keyOf = (owner: string, reference: string): string => `${owner}\u0000${reference}`;
  const timestamp = (): string => new Date(now()).toISOString();
  const nextPspReference = (): string => String(1_000_000_000 + ++pspSequence);

  const addEvent = (payment: Payment, name: EventName, value: number, idempotencyKey: string | null, pspReference = nextPspReference()) => {
    const event: PaymentEvent = {
      reference: payment.reference,
      pspReference,
      name,
      amount: { currency: payment.amount.currency, value },
      timestamp: timestamp(),
      idempotencyKey,
      success: true,
    };
    payment.events.push(event);
    return event;
  };

  /** A payment no create call made, as `unknownReferences: 'authorized'` has it: 10 NOK, approved at the emulator's start. */
  const madeUp = (owner: string, reference: string, merchantSerialNumber: string | undefined): Payment => {
    // Derived from the reference, so that every answer about the same made-up payment agrees without storing it.
    const digest = createHash('sha256').update(keyOf(owner, reference)).digest();
    const pspReference = (offset: number): string => String(digest.readUInt32BE(offset) + 1_000_000_000);
    const payment: Payment = {
      reference,
      owner,
      merchantSerialNumber,
      amount: { currency: 'NOK', value: 1000 },
      paymentMethodType: 'WALLET',
      state: 'AUTHORIZED',
      authorized: 1000,
      cancelled: 0,
      captured: 0,
      refunded: 0,
      redirectUrl: undefined,
      metadata: undefined,
      profileScope: undefined,
      profileSub: undefined,
      createKey: null,
      events: [],
    };
    for (const [name, offset] of [
      ['CREATED', 0],
      ['AUTHORIZED', 4],
    ] as const) {
      payment.events.push({
        reference,
        pspReference: pspReference(offset),
        name,
        amount: { ...payment.amount },
        timestamp: madeUpAt,
        idempotencyKey: null,
        success: true,
      });
    }
    return payment;
  };

  /** The payment a call names: created, or made up (not stored: a soak's endless GETs must not grow the heap). */
  const find = (owner: string, reference: string, merchantSerialNumber: string | undefined): Payment | undefined =>
    payments.get(keyOf(owner, reference)) ??
    (unknownReferences === 'authorized' ? madeUp(owner, reference, merchantSerialNumber) : undefined);

  /** Stores a made-up payment before its first change. */
  const keep = (payment: Payment): Payment => {
    const key = keyOf(payment.owner, payment.reference);
    if (!payments.has(key)) payments.set(key, payment);
    return payment;
  };

  const amountOf = (payment: Payment, value: number): Amount => ({ currency: payment.amount.currency, value });
  const aggregateOf = (payment: Payment) => ({
    authorizedAmount: amountOf(payment, payment.authorized),
    cancelledAmount: amountOf(payment, payment.cancelled),
    capturedAmount: amountOf(payment, payment.captured),
    refundedAmount: amountOf(payment, payment.refunded),
  });
  const lastPspReference = (payment: Payment): string => payment.events.at(-1)?.pspReference ?? '';

  /** `GET /epayment/v1/payments/{reference}`: the fields `GetPaymentResponse` requires, and the optional ones set. */
  const paymentBody = (payment: Payment): Record<string, unknown> => ({
    reference: payment.reference,
    state: payment.state,
    amount: { ...payment.amount },
    aggregate: aggregateOf(payment),
    paymentMethod: { type: payment.paymentMethodType },
    profile: payment.profileSub === undefined ? {} : { sub: payment.profileSub },
    pspReference: lastPspReference(payment),
    ...(payment.redirectUrl === undefined ? {} : { redirectUrl: payment.redirectUrl }),
    ...(payment.metadata === undefined ? {} : { metadata: payment.metadata }),
    // Not in the published type: the emulator reports which sales unit answered, for tests of partner calls.
    merchantSerialNumber: payment.merchantSerialNumber ?? null,
  });

  /** `ModificationResponse`: the payment after the change, with the change's own `pspReference`. */
  const modificationBody = (payment: Payment, event: PaymentEvent): Record<string, unknown> => ({
    amount: { ...payment.amount },
    state: payment.state,
    aggregate: aggregateOf(payment),
    pspReference: event.pspReference,
    reference: payment.reference,
  });

  const approve = (payment: Payment, idempotencyKey: string | null): void => {
    payment.state = 'AUTHORIZED';
    payment.authorized = payment.amount.value;
    if (payment.profileScope !== undefined) payment.profileSub = randomUUID();
    // The guide's event log shows the AUTHORIZED event with the create call's key.
    addEvent(payment, 'AUTHORIZED', payment.amount.value, idempotencyKey ?? payment.createKey);
  };

  const create = (call: Call, body: unknown): EmulatorAnswer => {
    const checked = checkCreate(body);
    if ('problem' in checked) return checked.problem(call.instance);
    const request = checked.request;
    const existing = payments.get(keyOf(call.owner, request.reference));
    if (existing !== undefined) {
      return domainError(409, 'Idempotency error', `Reference ${request.reference} already exists.`, '4150')(call.instance);
    }
    if (request.amount.value < minimumAmount[request.amount.currency]) {
      const detail = 'The amount is too small. Amounts are specified in minor units, like øre or cent.';
      return domainError(400, 'Amount too small', detail, '6010')(call.instance);
    }
    // The two requirements the published description states: WEB_REDIRECT needs returnUrl, PUSH_MESSAGE customer.
    const missing =
      request.userFlow === 'WEB_REDIRECT' && request.returnUrl === undefined
        ? 'returnUrl'
        : request.userFlow === 'PUSH_MESSAGE' && request.customer === undefined
          ? 'customer'
          : undefined;
    if (missing !== undefined) {
      return domainError(400, 'Missing required parameter', `The parameter ${missing} is required.`, '4140')(call.instance);
    }
    const redirectUrl =
      request.userFlow === 'PUSH_MESSAGE'
        ? undefined
        : `${call.origin}/landing-page?token=${randomBytes(16).toString('hex')}&reference=${encodeURIComponent(request.reference)}`;
    const payment: Payment = {
      reference: request.reference,
      owner: call.owner,
      merchantSerialNumber: call.merchantSerialNumber,
      amount: request.amount,
      paymentMethodType: request.paymentMethod.type,
      state: 'CREATED',
      authorized: 0,
      cancelled: 0,
      captured: 0,
      refunded: 0,
      redirectUrl,
      metadata: request.metadata,
      profileScope: request.profile?.scope,
      profileSub: undefined,
      createKey: call.idempotencyKey,
      events: [],
    };
    addEvent(payment, 'CREATED', payment.amount.value, call.idempotencyKey, randomUUID());
    payments.set(keyOf(call.owner, payment.reference), payment);
    return { status: 201, body: { reference: payment.reference, ...(redirectUrl === undefined ? {} : { redirectUrl }) } };
  };

  const modify = (call: Call, operation: 'capture' | 'cancel' | 'refund', body: unknown): EmulatorAnswer => {
    const found = find(call.owner, call.reference, call.merchantSerialNumber);
    if (found === undefined) return notFound(call);
    const payment = found;
    const refuse = (title: string, detail: string, errorCode: string): EmulatorAnswer =>
      domainError(400, title, detail, errorCode)(call.instance);
    const wrongState = (verb: string, errorCode: string): EmulatorAnswer =>
      refuse(`Payment cannot be ${verb}`, `Reference ${payment.reference} cannot be ${verb}. Invalid state: ${payment.state}.`, errorCode);

    if (operation === 'cancel') {
      const cancelTransactionOnly = isRecord(body) && body.cancelTransactionOnly === true;
      if (payment.state === 'CREATED') {
        // Cancelled before the user acted: the payment ends, its whole amount cancelled (the guide's example).
        payment.state = 'TERMINATED';
        payment.cancelled = payment.amount.value;
        return {
          status: 200,
          body: modificationBody(keep(payment), addEvent(payment, 'TERMINATED', payment.amount.value, call.idempotencyKey)),
        };
      }
      if (payment.state !== 'AUTHORIZED' || cancelTransactionOnly) return wrongState('cancelled', '6190');
      const remaining = payment.authorized - payment.captured - payment.cancelled;
      if (remaining <= 0 && payment.captured > 0) {
        return refuse(
          'Cannot cancel a captured payment',
          'Cannot cancel a payment that has been captured. Check the payment event log.',
          '6040',
        );
      }
      if (remaining <= 0) {
        return refuse(
          'Cannot cancel a non-reserved payment',
          'Cannot cancel a payment that is not reserved. Check the payment event log.',
          '6050',
        );
      }
      // After authorization the state stays AUTHORIZED; what is not captured is released (the guide's example).
      payment.cancelled += remaining;
      return { status: 200, body: modificationBody(keep(payment), addEvent(payment, 'CANCELLED', remaining, call.idempotencyKey)) };
    }

    const amount = checkModificationAmount(body, payment.amount.currency);
    if ('problem' in amount) return amount.problem(call.instance);
    const value = amount.value;
    if (operation === 'capture') {
      if (payment.state === 'CREATED') {
        return refuse(
          'Cannot capture before reservation',
          'The amount you tried to capture is not reserved. The user must accept the payment before capture can be done.',
          '6080',
        );
      }
      if (payment.state === 'TERMINATED' || (payment.state === 'AUTHORIZED' && payment.cancelled > 0)) {
        return refuse(
          'Cannot capture a cancelled payment',
          'Cannot capture a payment that has been cancelled. Check the payment event log.',
          '6070',
        );
      }
      if (payment.state !== 'AUTHORIZED') return wrongState('captured', '6200');
      if (value > payment.authorized - payment.captured) {
        const detail =
          'The total capture amount exceeds the reserved amount. Cannot capture a higher amount than the amount the user has accepted. Check the payment details.';
        return refuse('Capture amount too high', detail, '6090');
      }
      payment.captured += value;
      return { status: 200, body: modificationBody(keep(payment), addEvent(payment, 'CAPTURED', value, call.idempotencyKey)) };
    }

    if (payment.state === 'CREATED') {
      return refuse(
        'Attempted refund before reservation',
        'Cannot refund a payment that is not reserved. Check the payment event log.',
        '6020',
      );
    }
    if (payment.state !== 'AUTHORIZED') return wrongState('refunded', '6210');
    if (value > payment.captured - payment.refunded) {
      return refuse('Not enough refundable', 'Cannot refund more than the available amount. Check the payment event log.', '6150');
    }
    payment.refunded += value;
    return { status: 200, body: modificationBody(keep(payment), addEvent(payment, 'REFUNDED', value, call.idempotencyKey)) };
  };

  const forceApprove = (call: Call): EmulatorAnswer => {
    const payment = find(call.owner, call.reference, call.merchantSerialNumber);
    if (payment === undefined) return notFound(call);
    if (payment.state === 'AUTHORIZED') {
      return domainError(
        400,
        'Payment is already reserved',
        `The payment with reference ${payment.reference} has already been reserved.`,
        '6230',
      )(call.instance);
    }
    if (payment.state !== 'CREATED') {
      const detail = `Force approve payment failed (this is only available in the test environment). Reason: Invalid state: ${payment.state}.`;
      return domainError(400, 'Approve failed', detail, '10010')(call.instance);
    }
    approve(payment, null);
    // The published description documents a 200 without a body schema; an empty object is our guess.
    return { status: 200, body: {} };
  };

  const run = (call: Call, operation: Operation, body: unknown): EmulatorAnswer => {
    switch (operation) {
      case 'create':
        return create(call, body);
      case 'get': {
        const payment = find(call.owner, call.reference, call.merchantSerialNumber);
        return payment === undefined ? notFound(call) : { status: 200, body: paymentBody(payment) };
      }
      case 'events': {
        const payment = find(call.owner, call.reference, call.merchantSerialNumber);
        return payment === undefined ? notFound(call) : { status: 200, body: payment.events.map((event) => ({ ...event })) };
      }
      case 'approve':
        return forceApprove(call);
      default:
        return modify(call, operation, body);
    }
  };

  return {
    answer(request, caller) {
      const route = routeOf(request.method, request.path);
      const instance = request.path.replace(/^\/epayment/i, '');
      if ('status' in route)
        return problem(route.status, route.status === 405 ? 'Method Not Allowed' : 'Not Found', instance, route.detail);
      const idempotencyKey = request.headers['idempotency-key'];
      const call: Call = {
        owner: caller.merchantSerialNumber ?? `client:${caller.clientId}`,
        merchantSerialNumber: caller.merchantSerialNumber,
        reference: route.reference,
        instance,
        origin: `http://${request.headers.host ?? '127.0.0.1'}`,
        idempotencyKey: keyedOperations.has(route.operation) ? (idempotencyKey ?? null) : null,
      };
      if (!keyedOperations.has(route.operation)) return run(call, route.operation, parsedBody(request.body).value);

      if (idempotencyKey === undefined || idempotencyKey === '') {
        return badRequest(instance, [{ name: 'Idempotency-Key', reason: 'The Idempotency-Key field is required.' }]);
      }
      if (idempotencyKey.length > idempotencyKeyMaxLength) {
        const reason = `The field Idempotency-Key must be a string with a maximum length of ${idempotencyKeyMaxLength}.`;
        return badRequest(instance, [{ name: 'Idempotency-Key', reason }]);
      }
      const parsed = parsedBody(request.body);
      const fingerprint = parsed.canonical;
      const slot = `${call.owner}\u0000${idempotencyKey}`;
      const previous = answered.get(slot);
      if (previous !== undefined) {
        if (previous.operation === route.operation && previous.reference === route.reference && previous.fingerprint === fingerprint) {
          return previous.answer;
        }
        return idempotencyConflict(
          previous.operation === route.operation && previous.reference === route.reference,
          route.operation,
          idempotencyKey,
          instance,
        );
      }
      const answer = parsed.valid
        ? run(call, route.operation, parsed.value)
        : badRequest(instance, [{ name: 'body', reason: parsed.reason }]);
      // Refusals are kept too: "you will continue to get the same error as long as you use the same idempotency-key".
      answered.set(slot, { operation: route.operation, reference: route.reference, fingerprint, answer });
      return answer;
    },

    actAsUser(reference, action, actionOptions = {}) {
      const issue = (path: string, message: string) => new ConfigurationError({ provider: 'vipps', issues: [{ path, message }] });
      const candidates = [...payments.values()].filter(
        (payment) =>
          payment.reference === reference &&
          (actionOptions.merchantSerialNumber === undefined || payment.merchantSerialNumber === actionOptions.merchantSerialNumber),
      );
      if (candidates.length === 0) throw issue('reference', 'the emulator has no payment with this reference (create it first)');
      if (candidates.length > 1) throw issue('merchantSerialNumber', 'several sales units have a payment with this reference: name one');
      const payment = candidates[0]!;
      if (userActionStates[action] === undefined) throw issue('action', 'must be approve, abort or expire');
      if (payment.state !== 'CREATED') throw issue('action', `the payment is ${payment.state}: only a CREATED payment awaits the user`);
      if (action === 'approve') approve(payment, null);
      else {
        payment.state = userActionStates[action];
        addEvent(payment, userActionStates[action], payment.amount.value, null);
      }
      return payment.state;
    },
  };
}

/** One ePayment call, once routed and authorized. */
interface Call {
  owner: string;
  merchantSerialNumber: string | undefined;
  reference: string;
  /** The problem body's `instance`: the path without `/epayment`, as the gateway's examples show. */
  instance: string;
  /** Where the emulator was reached, for `redirectUrl`. */
  origin: string;
  idempotencyKey: string | null;
}

/** The operation and reference a method and path name, or the status to refuse them with. */
function routeOf(method: string, path: string): { operation: Operation; reference: string } | { status: 404 | 405; detail: string } {
  const segments = path.split('/').slice(1);
  const lower = segments.map((segment) => segment.toLowerCase());
  const notFound = { status: 404, detail: 'No such ePayment endpoint.' } as const;
  const only = (allowed: string, operation: Operation, rawReference = '') => {
    if (method !== allowed) return { status: 405, detail: `Use ${allowed}.` } as const;
    const reference = decode(rawReference);
    return reference === undefined ? notFound : { operation, reference };
  };
  if (lower[0] !== 'epayment' || lower[1] !== 'v1') return notFound;
  if (lower[2] === 'payments') {
    if (segments.length === 3) return only('POST', 'create');
    if (segments.length === 4 && segments[3] !== '') return only('GET', 'get', segments[3]);
    const action = lower[4];
    if (segments.length === 5 && segments[3] !== '') {
      if (action === 'events') return only('GET', 'events', segments[3]);
      if (action === 'capture' || action === 'cancel' || action === 'refund') return only('POST', action, segments[3]);
    }
  }
  if (lower[2] === 'test' && lower[3] === 'payments' && segments.length === 6 && lower[5] === 'approve' && segments[4] !== '') {
    return only('POST', 'approve', segments[4]);
  }
  return notFound;
}

/** A path segment decoded; `undefined` when it does not decode or holds a `/` (it names no payment). */
function decode(segment: string): string | undefined {
  try {
    const decoded = decodeURIComponent(segment);
    return decoded.includes('/') ? undefined : decoded;
  } catch {
    // A malformed escape (`%E0`) names no payment: answer 404 rather than throw in the server's request handler.
    return undefined;
  }
}

/** The body as JSON (an empty body is `{}`), with a canonical text to compare requests by, whatever the key order. */
function parsedBody(
  body: Buffer,
): { valid: true; value: unknown; canonical: string } | { valid: false; value: undefined; canonical: string; reason: string } {
  const text = body.toString('utf8');
  if (text.trim() === '') return { valid: true, value: {}, canonical: '{}' };
  try {
    const value: unknown = JSON.parse(text);
    return { valid: true, value, canonical: canonicalJson(value) };
  } catch {
    return { valid: false, value: undefined, canonical: `raw:${text}`, reason: 'The request body is not valid JSON.' };
  }
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isRecord(value)) {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface CreateRequest {
  amount: Amount;
  paymentMethod: { type: string };
  reference: string;
  userFlow: string;
  returnUrl?: unknown;
  customer?: unknown;
  profile?: { scope?: string };
  metadata?: Record<string, string> | null;
}

type ExtraDetail = { name: string; reason: string };
type Refusal = { problem: (instance: string) => EmulatorAnswer };

/** Checks a create body's format (400 Bad Request with every bad field, as the gateway answers format errors). */
function checkCreate(body: unknown): { request: CreateRequest } | Refusal {
  if (!isRecord(body)) return { problem: (instance) => badRequest(instance, [{ name: 'body', reason: 'A JSON object is required.' }]) };
  const details: ExtraDetail[] = [];
  details.push(...amountProblems(body.amount, 'amount'));
  const paymentMethod = body.paymentMethod;
  if (!isRecord(paymentMethod) || (paymentMethod.type !== 'WALLET' && paymentMethod.type !== 'CARD')) {
    details.push({ name: 'paymentMethod.type', reason: 'The field paymentMethod.type must be WALLET or CARD.' });
  }
  if (typeof body.reference !== 'string' || !referencePattern.test(body.reference)) {
    details.push({ name: 'reference', reason: `The field Reference must match the regular expression '${referencePattern.source}'.` });
  }
  if (typeof body.userFlow !== 'string' || !userFlows.includes(body.userFlow)) {
    details.push({ name: 'userFlow', reason: `The field userFlow must be one of ${userFlows.join(', ')}.` });
  }
  const profile = body.profile;
  if (profile !== undefined && (!isRecord(profile) || (profile.scope !== undefined && typeof profile.scope !== 'string'))) {
    details.push({ name: 'profile.scope', reason: 'The field profile.scope must be a string.' });
  }
  const metadata = body.metadata;
  if (
    metadata !== undefined &&
    metadata !== null &&
    (!isRecord(metadata) || Object.keys(metadata).length > 5 || Object.values(metadata).some((value) => typeof value !== 'string'))
  ) {
    details.push({ name: 'metadata', reason: 'The field metadata must map at most 5 keys to strings.' });
  }
  if (details.length > 0) return { problem: (instance) => badRequest(instance, details) };
  return { request: body as unknown as CreateRequest };
}

/** Checks a capture or refund body: `modificationAmount` in the payment's currency, at least 1 minor unit. */
function checkModificationAmount(body: unknown, currency: Currency): { value: number } | Refusal {
  const amount = isRecord(body) ? body.modificationAmount : undefined;
  const details =
    amount === undefined
      ? [{ name: 'modificationAmount', reason: 'The modificationAmount field is required.' }]
      : amountProblems(amount, 'modificationAmount');
  if (details.length === 0 && isRecord(amount)) {
    if (amount.currency !== currency)
      details.push({ name: 'modificationAmount.currency', reason: `The currency must be the payment's, ${currency}.` });
    // Inferred: a modification of nothing is refused, not recorded as an event of 0.
    else if ((amount.value as number) < 1) details.push({ name: 'modificationAmount.value', reason: 'The value must be at least 1.' });
  }
  if (details.length > 0) return { problem: (instance) => badRequest(instance, details) };
  return { value: (amount as Amount).value };
}

function amountProblems(amount: unknown, name: string): ExtraDetail[] {
  if (!isRecord(amount)) return [{ name, reason: `The ${name} field is required.` }];
  const details: ExtraDetail[] = [];
  if (typeof amount.currency !== 'string' || !currencies.includes(amount.currency)) {
    details.push({ name: `${name}.currency`, reason: `The field currency must be one of ${currencies.join(', ')}.` });
  }
  const value = amount.value;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > maximumAmount) {
    details.push({ name: `${name}.value`, reason: `The field value must be a whole number of minor units from 0 to ${maximumAmount}.` });
  }
  return details;
}

function notFound(call: Call): EmulatorAnswer {
  const detail = `The reference ${call.reference} does not exist for MSN ${call.merchantSerialNumber ?? '(none)'}`;
  return domainError(404, 'Reference not found', detail, '5090')(call.instance);
}

function idempotencyConflict(sameOperation: boolean, operation: Operation, key: string, instance: string): EmulatorAnswer {
  const identical = 'request in an idempotent retry must be identical to the previous request(s).';
  if (sameOperation && operation === 'capture')
    return domainError(409, 'Capture idempotency conflict', `The capture ${identical}`, '4010')(instance);
  if (sameOperation && operation === 'refund') return domainError(409, 'Refund idempotency conflict', `The ${identical}`, '4150')(instance);
  return domainError(409, 'Idempotency error', `Idempotency-Key ${key} already exists.`, '4020')(instance);
}

/** A refusal of the payment's rules: its title, detail and error code as the ePayment guide lists them. */
function domainError(status: number, title: string, detail: string, errorCode: string): (instance: string) => EmulatorAnswer {
  return (instance) => problem(status, title, instance, detail, [{ name: 'ErrorCode', reason: errorCode }]);
}

/** A request whose fields are malformed: "HTTP 400 Bad request without an error code", the fields in `extraDetails`. */
function badRequest(instance: string, extraDetails: readonly ExtraDetail[]): EmulatorAnswer {
  return problem(400, 'Bad Request', instance, 'See extraDetails for further details', extraDetails);
}

/** The API's error body: RFC 7807 with the gateway's `traceId` (a W3C trace context) and `extraDetails`. */
function problem(status: number, title: string, instance: string, detail: string, extraDetails?: readonly ExtraDetail[]): EmulatorAnswer {
  const traceId = `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
  return {
    status,
    contentType: problemType,
    body: {
      type: `https://httpstatuses.io/${status}`,
      title,
      status,
      detail,
      instance,
      traceId,
      ...(extraDetails === undefined ? {} : { extraDetails: [...extraDetails] }),
    },
  };
}
