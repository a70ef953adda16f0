/**
 * The emulator against a client no one here wrote: oauth4webapi 3 (panva), a strict RFC 6749 client that form-encodes
 * Basic credentials and validates every answer. If it and our provider both agree with the emulator, the emulator
 * speaks the protocol and not merely our reading of it.
 */
import * as oauth from 'oauth4webapi';
import { afterEach, describe, expect, it } from 'vitest';
import { createOAuth2Emulator, type OAuth2Emulator, oauth2EmulatorDefaultMerchant } from './index.js';

/** A secret with every character form-encoding changes: `+`, `/`, `=`, `:` and a space. */
const awkward = { clientId: 'shop 1', clientSecret: 'xcanary+Kt/ew6:GE2 ycEt6egg==', scopes: ['orders:read'] };

let emulator: OAuth2Emulator;

afterEach(async () => {
  await emulator.close();
});

async function grant(clientAuth: oauth.ClientAuth, clientId: string, parameters: Record<string, string> = {}) {
  const as: oauth.AuthorizationServer = { issuer: emulator.url, token_endpoint: emulator.tokenUrl };
  const client: oauth.Client = { client_id: clientId };
  const response = await oauth.clientCredentialsGrantRequest(as, client, clientAuth, parameters, { [oauth.allowInsecureRequests]: true });
  return oauth.processClientCredentialsResponse(as, client, response);
}

describe('the OAuth 2.0 emulator with oauth4webapi', () => {
  it('should give oauth4webapi a token for client_secret_basic and client_secret_post with an awkward secret', async () => {
    emulator = await createOAuth2Emulator({ merchants: [awkward] });
    const viaBasic = await grant(oauth.ClientSecretBasic(awkward.clientSecret), awkward.clientId, { scope: 'orders:read' });
    expect(viaBasic).toMatchObject({ token_type: 'bearer', expires_in: 3600, scope: 'orders:read' });
    const viaPost = await grant(oauth.ClientSecretPost(awkward.clientSecret), awkward.clientId);
    expect(viaPost.access_token).toMatch(/^xcanary/);
    const api = await oauth.protectedResourceRequest(
      viaPost.access_token,
      'GET',
      new URL('/api/orders/1', emulator.url),
      undefined,
      undefined,
      {
        [oauth.allowInsecureRequests]: true,
      },
    );
    expect(api.status).toBe(200);
  });

  it('should refuse a wrong secret in a way oauth4webapi reads: a Basic challenge, or invalid_client in the body', async () => {
    emulator = await createOAuth2Emulator({ merchants: [awkward] });
    const basic = await grant(oauth.ClientSecretBasic('xcanary-wrong'), awkward.clientId).catch((error: unknown) => error);
    expect(basic).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
    expect((basic as oauth.WWWAuthenticateChallengeError).cause).toMatchObject([
      { scheme: 'basic', parameters: { realm: 'oauth2-emulator' } },
    ]);
    const post = await grant(oauth.ClientSecretPost('xcanary-wrong'), awkward.clientId).catch((error: unknown) => error);
    expect(post).toBeInstanceOf(oauth.ResponseBodyError);
    expect(post).toMatchObject({ status: 400, error: 'invalid_client' });
    const scope = await grant(oauth.ClientSecretPost(awkward.clientSecret), awkward.clientId, { scope: 'admin' }).catch(
      (error: unknown) => error,
    );
    expect(scope).toMatchObject({ status: 400, error: 'invalid_scope' });
  });

  it('should give oauth4webapi PayPal’s answer, app_id and nonce included, and refuse it as PayPal does', async () => {
    // oauth4webapi escapes `-` and `_` in a Basic credential; whether PayPal decodes them is not documented, so this
    // emulator decodes, as RFC 6749 says: the test is about the answer's shape.
    emulator = await createOAuth2Emulator({ flavor: 'paypal', basicEncoding: 'form-encoded' });
    const { clientId, clientSecret } = oauth2EmulatorDefaultMerchant;
    const token = await grant(oauth.ClientSecretBasic(clientSecret), clientId);
    expect(token).toMatchObject({ token_type: 'bearer', expires_in: 32_400, app_id: 'APP-80W284485P519543T', nonce: expect.any(String) });
    const refused = await grant(oauth.ClientSecretBasic('xcanary-wrong'), clientId).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(oauth.ResponseBodyError);
    expect(refused).toMatchObject({ status: 401, error: 'invalid_client', error_description: 'Client Authentication failed' });
  });
});
