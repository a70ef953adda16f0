/**
 * The emulator's token and payment answers, validated against i'mport's published OpenAPI (vendored in
 * `test/fixtures/iamport-openapi.json`; its source and date are in `test/fixtures/README.md`).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { iamportOpenApi, openApiAnswerProblems, openApiOperation, openApiProblems } from '../../test/iamport-openapi.js';
import { createIamportEmulator, type IamportEmulator } from './index.js';

let emulator: IamportEmulator | undefined;

afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

async function start(): Promise<IamportEmulator> {
  emulator = await createIamportEmulator();
  return emulator;
}

async function post(server: IamportEmulator, contentType: string, body: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${server.url}/users/getToken`, { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: response.status, body: await response.json() };
}

async function tokenOf(server: IamportEmulator): Promise<string> {
  const { impKey, impSecret } = server.defaultMerchant;
  const { body } = await post(server, 'application/json', JSON.stringify({ imp_key: impKey, imp_secret: impSecret }));
  return (body as { response: { access_token: string } }).response.access_token;
}

async function get(server: IamportEmulator, path: string, token?: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${server.url}${path}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  return { status: response.status, body: await response.json() };
}

describe('createIamportEmulator against the published OpenAPI', () => {
  it('should read the vendored document as i’mport’s Swagger 2.0 for api.iamport.kr', () => {
    expect(iamportOpenApi).toMatchObject({ swagger: '2.0', host: 'api.iamport.kr' });
    expect(openApiOperation('/users/getToken', 'post').operationId).toBe('getToken');
    expect(openApiOperation('/payments/{imp_uid}', 'get').operationId).toBe('getPaymentByImpUid');
  });

  it('should find a token answer without access_token, or with a numeric one, invalid', () => {
    const valid = { code: 0, message: null, response: { access_token: 'a'.repeat(40), now: 1_700_000_000, expired_at: 1_700_001_800 } };
    expect(openApiProblems('AuthResponse', valid)).toEqual([]);
    expect(openApiProblems('AuthResponse', { ...valid, response: { now: 1, expired_at: 2 } })).not.toEqual([]);
    expect(openApiProblems('AuthResponse', { ...valid, response: { ...valid.response, access_token: 1 } })).not.toEqual([]);
    expect(openApiAnswerProblems('/users/getToken', 'post', 418, valid)).toEqual(['status 418 is not listed for POST /users/getToken']);
  });

  it.each(openApiOperation('/users/getToken', 'post').consumes ?? [])(
    'should answer getToken sent as %s with an AuthResponse',
    async (contentType) => {
      const server = await start();
      const { impKey, impSecret } = server.defaultMerchant;
      const fields = { imp_key: impKey, imp_secret: impSecret };
      const body = contentType === 'application/json' ? JSON.stringify(fields) : new URLSearchParams(fields).toString();
      const answer = await post(server, contentType, body);
      expect(answer.status).toBe(200);
      expect(openApiAnswerProblems('/users/getToken', 'post', answer.status, answer.body)).toEqual([]);
    },
  );

  it('should answer wrong credentials with the 401 getToken lists, in the response envelope', async () => {
    const server = await start();
    const answer = await post(server, 'application/json', JSON.stringify({ imp_key: 'imp_apikey', imp_secret: 'wrong' }));
    expect(openApiAnswerProblems('/users/getToken', 'post', answer.status, answer.body)).toEqual([]);
    expect(answer.status).toBe(401);
    expect(openApiProblems('ResponseAnnotation', answer.body)).toEqual([]);
  });

  it('should answer missing parameters with 400, the status the OpenAPI gives missing parameters elsewhere, in the envelope', async () => {
    // getToken lists only 200 and 401; operations that list missing parameters (e.g. POST /escrows/logis/{imp_uid})
    // give them 400.
    expect(openApiOperation('/escrows/logis/{imp_uid}', 'post').responses['400']?.description).toMatch(/파라메터가 누락/);
    const server = await start();
    const answer = await post(server, 'application/json', '{}');
    expect(answer.status).toBe(400);
    expect(openApiProblems('ResponseAnnotation', answer.body)).toEqual([]);
  });

  it('should answer GET /payments/{imp_uid} with a PaymentResponse', async () => {
    const server = await start();
    const answer = await get(server, '/payments/imp_448280090638', await tokenOf(server));
    expect(answer.status).toBe(200);
    expect(openApiAnswerProblems('/payments/{imp_uid}', 'get', answer.status, answer.body)).toEqual([]);
  });

  it('should answer an unknown payment with the 404 the path lists, in the envelope', async () => {
    const server = await start();
    const answer = await get(server, '/payments/not-a-payment', await tokenOf(server));
    expect(answer.status).toBe(404);
    expect(openApiAnswerProblems('/payments/{imp_uid}', 'get', answer.status, answer.body)).toEqual([]);
    expect(openApiProblems('ResponseAnnotation', answer.body)).toEqual([]);
  });

  it('should answer a payment lookup without a token with the 401 the path lists, in the envelope', async () => {
    const server = await start();
    const answer = await get(server, '/payments/imp_448280090638');
    expect(answer.status).toBe(401);
    expect(openApiAnswerProblems('/payments/{imp_uid}', 'get', answer.status, answer.body)).toEqual([]);
    expect(openApiProblems('ResponseAnnotation', answer.body)).toEqual([]);
  });
});
