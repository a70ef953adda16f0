/**
 * i'mport clients that no one here wrote, as published on npm, against the emulator over real sockets: each gets a
 * token, looks a payment up, looks up a payment that does not exist, and is refused a wrong secret — as it would be by
 * api.iamport.kr. Each client is pointed at the emulator through its own setting; none needed its `fetch` or HTTP
 * layer wrapped:
 * - `iamport` 0.3.4 (the official client, `request` underneath) has no host option: its constructor copies the public
 *   static `Iamport.DEFAULT_HOST`, so the test sets that around the construction and restores it. It sends the token
 *   as a bare `Authorization: <token>`.
 * - `iamporter` 1.4.2 (axios 0.16) takes `host`; it sends the bare form.
 * - `iamport-rest-client-nodejs` 0.9.12 (axios 0.19) takes `baseUrl`; it sends `Authorization: Bearer <token>`.
 * - `iamport-server-api` 10 (`@nestia/fetcher`, global `fetch`) takes the host as its connection's `host`; it sends
 *   the bare form.
 * The unknown payment is `iamporter-test-imp-uid`, the id iamporter's own live test looks up: the emulator makes up a
 * payment for any `imp_…` id.
 */
import { createRequire } from 'node:module';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createIamportEmulator, type IamportEmulator } from './index.js';

const require = createRequire(import.meta.url);

const knownPayment = 'imp_448280090638';
const unknownPayment = 'iamporter-test-imp-uid';
const wrongSecret = 'wrong-secret-of-a-test';
const hexToken = /^[a-f0-9]{40}$/;

let emulator: IamportEmulator;

beforeAll(async () => {
  emulator = await createIamportEmulator();
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.revoke();
  emulator.resetCounters();
});

/** The `authorization` header of the last API call the emulator received. */
function lastAuthorization(): string | undefined {
  return emulator.seen('api').at(-1)?.headers.authorization;
}

/** What a rejected promise rejected with; fails the test if it resolved. */
async function rejectionOf(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error as Record<string, unknown>,
  );
  if (outcome === undefined) throw new Error('expected a rejection');
  return outcome;
}

describe('iamport 0.3.4 (the official Node client)', () => {
  interface IamportClient {
    payment: { getByImpUid(params: { imp_uid: string }): Promise<Record<string, unknown>> };
  }
  interface IamportModule {
    new (options: { impKey: string; impSecret: string }): IamportClient;
    DEFAULT_HOST: string;
  }
  const Iamport = require('iamport') as IamportModule;

  /** A client of `api.iamport.kr`'s emulator: `DEFAULT_HOST` is read once, by the constructor. */
  function client(impSecret = emulator.defaultMerchant.impSecret): IamportClient {
    const published = Iamport.DEFAULT_HOST;
    Iamport.DEFAULT_HOST = emulator.url;
    try {
      return new Iamport({ impKey: emulator.defaultMerchant.impKey, impSecret });
    } finally {
      Iamport.DEFAULT_HOST = published;
    }
  }

  it('should get a token and look a payment up with it, sent as a bare Authorization', async () => {
    const payment = await client().payment.getByImpUid({ imp_uid: knownPayment });
    expect(payment).toMatchObject({ imp_uid: knownPayment, status: 'paid' });
    const token = emulator.currentToken()?.accessToken;
    expect(token).toMatch(hexToken);
    expect(lastAuthorization()).toBe(token);
    expect(emulator.counters).toMatchObject({ tokenRequests: 1, apiCalls: 1, unauthorizedApiCalls: 0 });
  });

  it('should get a 404 for a payment that does not exist', async () => {
    const error = await rejectionOf(client().payment.getByImpUid({ imp_uid: unknownPayment }));
    expect(error.code).toBe('HTTP_404');
  });

  it('should be refused a wrong secret with 401', async () => {
    const error = await rejectionOf(client(wrongSecret).payment.getByImpUid({ imp_uid: knownPayment }));
    expect(error.code).toBe('HTTP_401');
    expect(emulator.counters.tokensIssued).toBe(0);
  });
});

describe('iamporter 1.4.2', () => {
  interface IamporterResult {
    status: number;
    message: string | null;
    data: Record<string, unknown> | null;
  }
  interface IamporterClient {
    getToken(apiKey?: string | null, secret?: string | null): Promise<IamporterResult>;
    findByImpUid(impUid: string): Promise<IamporterResult>;
  }
  const { Iamporter } = require('iamporter') as {
    Iamporter: new (options: { apiKey: string; secret: string; host: string }) => IamporterClient;
  };
  const client = (secret = emulator.defaultMerchant.impSecret): IamporterClient =>
    new Iamporter({ apiKey: emulator.defaultMerchant.impKey, secret, host: emulator.url });

  it('should get a token of 40 hex digits, as its live test asserts, and look a payment up with it, sent bare', async () => {
    const iamporter = client();
    const token = await iamporter.getToken();
    expect(token.data).toEqual({ access_token: expect.stringMatching(hexToken), now: expect.any(Number), expired_at: expect.any(Number) });
    const payment = await iamporter.findByImpUid(knownPayment);
    expect(payment).toMatchObject({ status: 200, data: { imp_uid: knownPayment } });
    expect(lastAuthorization()).toBe(token.data?.access_token);
  });

  it('should get the 404 and message its live test expects for a payment that does not exist', async () => {
    // iamporter resolves a 404 rather than rejecting it.
    const answer = await client().findByImpUid(unknownPayment);
    expect(answer).toMatchObject({ status: 404, message: '존재하지 않는 결제정보입니다.', data: null });
  });

  it('should be refused a wrong secret with 401', async () => {
    const error = await rejectionOf(client(wrongSecret).getToken());
    expect(error).toMatchObject({ name: 'IamporterError', status: 401, message: '아임포트 API 인증에 실패하였습니다.' });
  });

  it('should get the message its live test expects when the key and secret are missing', async () => {
    const error = await rejectionOf(client().getToken(null, null));
    expect(error).toMatchObject({ name: 'IamporterError', status: 400, message: 'imp_key, imp_secret 파라메터가 누락되었습니다.' });
  });
});

describe('iamport-rest-client-nodejs 0.9.12', () => {
  interface RestClientRequest {
    request(iamport: object): Promise<{ status: number; data: { code: number; response: Record<string, unknown> } }>;
  }
  interface RestClientModule {
    Iamport: new (properties: { apiKey: string; apiSecret: string; baseUrl: string }) => object;
    Request: {
      Authenticate: { getToken(data: { imp_key: string; imp_secret: string }): RestClientRequest };
      Payments: { getByImpUid(params: { imp_uid: string }): RestClientRequest };
    };
  }
  const { Iamport, Request } = require('iamport-rest-client-nodejs') as RestClientModule;
  const client = (apiSecret = emulator.defaultMerchant.impSecret) =>
    new Iamport({ apiKey: emulator.defaultMerchant.impKey, apiSecret, baseUrl: emulator.url });

  it('should get a token and look a payment up with it, sent as Authorization: Bearer', async () => {
    const iamport = client();
    const { impKey, impSecret } = emulator.defaultMerchant;
    const token = await Request.Authenticate.getToken({ imp_key: impKey, imp_secret: impSecret }).request(iamport);
    expect(token.data.response.access_token).toMatch(hexToken);
    const payment = await Request.Payments.getByImpUid({ imp_uid: knownPayment }).request(iamport);
    expect(payment.data).toMatchObject({ code: 0, response: { imp_uid: knownPayment, status: 'paid' } });
    expect(lastAuthorization()).toBe(`Bearer ${token.data.response.access_token}`);
  });

  it('should get a 404 with code 1 for a payment that does not exist', async () => {
    const error = await rejectionOf(Request.Payments.getByImpUid({ imp_uid: unknownPayment }).request(client()));
    expect(error.response).toMatchObject({ status: 404, data: { code: 1, message: '존재하지 않는 결제정보입니다.', response: null } });
  });

  it('should be refused a wrong secret with 401', async () => {
    const error = await rejectionOf(Request.Payments.getByImpUid({ imp_uid: knownPayment }).request(client(wrongSecret)));
    expect(error.response).toMatchObject({ status: 401, data: { code: -1 } });
  });
});

describe('iamport-server-api 10', () => {
  interface Connection {
    host: string;
    headers?: Record<string, string>;
  }
  interface ServerApiModule {
    IamportConnector: new (host: string, accessor: { imp_key: string; imp_secret: string }) => { get(): Promise<Connection> };
    functional: {
      users: {
        getToken(connection: Connection, input: { imp_key: string; imp_secret: string }): Promise<{ response: { access_token: string } }>;
      };
      payments: {
        at(connection: Connection, impUid: string, query: object): Promise<{ code: number; response: Record<string, unknown> }>;
      };
    };
  }
  const imp = (require('iamport-server-api') as { default: ServerApiModule }).default;
  const accessor = (imp_secret = emulator.defaultMerchant.impSecret) => ({ imp_key: emulator.defaultMerchant.impKey, imp_secret });

  it('should get a token and look a payment up through its connector, sent as a bare Authorization', async () => {
    const token = await imp.functional.users.getToken({ host: emulator.url }, accessor());
    expect(token.response.access_token).toMatch(hexToken);
    const connection = await new imp.IamportConnector(emulator.url, accessor()).get();
    const payment = await imp.functional.payments.at(connection, knownPayment, {});
    expect(payment).toMatchObject({ code: 0, response: { imp_uid: knownPayment, status: 'paid' } });
    expect(lastAuthorization()).toBe(token.response.access_token);
  });

  it('should get a 404 with code 1 for a payment that does not exist', async () => {
    const connection = await new imp.IamportConnector(emulator.url, accessor()).get();
    const error = await rejectionOf(imp.functional.payments.at(connection, unknownPayment, {}));
    expect(error).toMatchObject({ status: 404 });
    expect(JSON.parse(String(error.message))).toEqual({ code: 1, message: '존재하지 않는 결제정보입니다.', response: null });
  });

  it('should be refused a wrong secret with 401', async () => {
    const error = await rejectionOf(imp.functional.users.getToken({ host: emulator.url }, accessor(wrongSecret)));
    expect(error).toMatchObject({ status: 401 });
  });
});
