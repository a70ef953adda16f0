/**
 * PortOne V2's token endpoints on the wire, shared by the provider and the emulator in `@x/portone/testing`. Source:
 * PortOne's OpenAPI description ("PortOne API" 1.16.0, `LoginViaApiSecretResponse`, `RefreshTokenBody`, the
 * `bearerJwt` and `portOne` security schemes).
 */
import { accessTokenSchema } from '@x/core/provider';
import * as v from 'valibot';

/** The API origin merchants call. */
export const portOneDefaultBaseUrl = 'https://api.portone.io';

/** Paths of the two token endpoints: a login with the API secret, and a refresh with the last refresh token. */
export const portOneTokenPaths = { login: '/login/api-secret', refresh: '/token/refresh' } as const;

/** Which token endpoint a request went to. */
export type PortOneTokenEndpoint = keyof typeof portOneTokenPaths;

/** The `Authorization` scheme that sends the API secret itself, with no token exchange. */
export const portOneAuthorizationScheme = 'PortOne';

/** What PortOne documents for an access token's life, used when the token carries no `exp` claim. */
export const portOneAccessTokenLifetimeMs = 1_800_000;

/** A refresh token as the cache can keep and store it: visible ASCII of at most 8 KiB. */
const refreshTokenSchema = v.pipe(accessTokenSchema, v.maxLength(8 * 1024));

/** `200` of both token endpoints. */
export const portOneTokenResponseSchema = v.object({
  /** The bearer token, a JWT (its claims are not documented; `exp` gives its expiry). */
  accessToken: accessTokenSchema,
  /** Spent by the next login or refresh of the same API secret: only the newest works. */
  refreshToken: refreshTokenSchema,
});

/** A token response as {@link portOneTokenResponseSchema} checks it. */
export type PortOneTokenResponse = v.InferOutput<typeof portOneTokenResponseSchema>;

/** PortOne's error body: `type` is e.g. `INVALID_REQUEST` (400) or `UNAUTHORIZED` (401); `message` is optional. */
export const portOneErrorSchema = v.object({ type: v.string(), message: v.optional(v.string()) });

/** PortOne's error body, as {@link portOneErrorSchema} checks it. */
export type PortOneErrorResponse = v.InferOutput<typeof portOneErrorSchema>;

/** Whole seconds since the epoch that still count in safe-integer milliseconds. */
const epochSeconds = v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(Math.floor(Number.MAX_SAFE_INTEGER / 1000)));

/** The JWT claims the provider reads: both optional, both whole epoch seconds when present. */
export const portOneTokenClaimsSchema = v.object({
  /** Expiry, on PortOne's clock. */
  exp: v.optional(epochSeconds),
  /** Issue time, on PortOne's clock: with `exp`, the lifetime is counted on ours. */
  iat: v.optional(epochSeconds),
});
