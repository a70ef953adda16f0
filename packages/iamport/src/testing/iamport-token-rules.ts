/** i'mport's token durations, in milliseconds. */
export interface IamportTokenRules {
  /** Lifetime of a newly issued token. */
  tokenLifetimeMs: number;
  /** A token request this close to expiry extends the token instead of returning it unchanged. */
  extensionWindowMs: number;
  /** How much later such a request moves the expiry. */
  extensionMs: number;
}

/** i'mport's own durations: 30-minute tokens, extended by 5 minutes when asked for within their last minute. */
export const iamportTokenRules: Readonly<IamportTokenRules> = Object.freeze({
  tokenLifetimeMs: 1_800_000,
  extensionWindowMs: 60_000,
  extensionMs: 300_000,
});

/** What a token request does to a merchant's token, and the expiry (gateway-clock epoch milliseconds) it answers with. */
export interface IamportTokenDecision {
  /** `issue`: a new token; `extend`: the same token, its expiry moved later; `reuse`: the same token, unchanged. */
  action: 'issue' | 'extend' | 'reuse';
  /** The token's expiry after the request, gateway-clock epoch milliseconds. */
  expiresAt: number;
}

/**
 * i'mport's rule for a token request at `now`, given the expiry of the merchant's current token (`undefined`: none, or
 * revoked): after expiry (or with none) a new token; within the extension window the same token, its expiry moved
 * later; before it the same token, unchanged.
 */
export function decideIamportToken(currentExpiresAt: number | undefined, now: number, rules: IamportTokenRules): IamportTokenDecision {
  if (currentExpiresAt === undefined || now >= currentExpiresAt) return { action: 'issue', expiresAt: now + rules.tokenLifetimeMs };
  if (currentExpiresAt - now <= rules.extensionWindowMs) return { action: 'extend', expiresAt: currentExpiresAt + rules.extensionMs };
  return { action: 'reuse', expiresAt: currentExpiresAt };
}
