/**
 * A bare `POST /users/getToken`, as an app without a token library writes it: what the peers call for a token.
 */
export function createIamportTokenRequest(
  baseUrl: string,
  impKey: string,
  impSecret: string,
): () => Promise<{ accessToken: string; expiresAt: number }> {
  return async () => {
    const response = await fetch(`${baseUrl}/users/getToken`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ imp_key: impKey, imp_secret: impSecret }),
    });
    const body = (await response.json()) as { code: number; response?: { access_token: string; now: number; expired_at: number } };
    if (!response.ok || body.code !== 0 || body.response === undefined) throw new Error(`i'mport token request failed: ${response.status}`);
    const { access_token: accessToken, now, expired_at: expiredAt } = body.response;
    return { accessToken, expiresAt: Date.now() + (expiredAt - now) * 1000 };
  };
}
