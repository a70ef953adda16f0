/**
 * The token handling most apps write by hand: a module-level token and an expiry check, no single flight, so every
 * caller that finds no valid token starts its own token request.
 */
export interface HandWrittenToken {
  getToken(): Promise<string>;
}

export function createHandWrittenToken(fetchToken: () => Promise<{ accessToken: string; expiresAt: number }>): HandWrittenToken {
  let token: string | undefined;
  let expiresAt = 0;
  return {
    async getToken() {
      if (token !== undefined && Date.now() < expiresAt - 60_000) return token;
      const fresh = await fetchToken();
      token = fresh.accessToken;
      expiresAt = fresh.expiresAt;
      return token;
    },
  };
}
