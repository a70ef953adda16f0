// The scenarios of the runtime smoke, as a Workers-style module (`export default { fetch }`): workerd runs it as a
// Worker (bundled, as wrangler would), Bun and Deno serve it with runtime-serve.mjs from the installed tarballs.
// .ci/smoke/runtime-driver.mjs (Node) sends the requests and checks the emulators' counters. Each scenario uses its
// own bearer fetch, created on first use and kept in module scope across requests, as an application keeps one in a
// Worker's global scope. Answers carry statuses and error names only: never a token or a secret.
import { createAuthFetch, isAuthError, isForeignOriginError } from '@x/core';
import { createIamportProvider } from '@x/iamport';
import { createClientCredentialsProvider } from '@x/oauth2';
import { createPortOneProvider } from '@x/portone';
import { createVippsProvider } from '@x/vipps';

/** Bearer fetches by scenario name: module scope, so they outlive the request that made them. */
const authFetches = new Map();

/** What one gateway's API call looks like, by gateway. */
const gateways = {
  iamport: {
    create: (settings, policy) => createAuthFetch(createIamportProvider(settings), { policy }),
    path: '/payments/imp_448280090638',
  },
  vipps: {
    create: (settings, policy) => createAuthFetch(createVippsProvider(settings), { policy }),
    path: '/epayment/v1/payments/order-1',
  },
  // A login, then refresh tokens that rotate: the provider state the cache keeps beside the token.
  portone: {
    create: (settings, policy) => createAuthFetch(createPortOneProvider(settings), { policy }),
    path: '/payments/payment-1',
  },
  // OAuth 2.0 client credentials, PayPal's preset (Basic client authentication, the token endpoint under baseUrl).
  oauth2: {
    create: (settings, policy) => createAuthFetch(createClientCredentialsProvider({ ...settings, preset: 'paypal' }), { policy }),
    path: '/v2/checkout/orders/1',
  },
};

function authFetchFor(scenario, gateway, smokeEnv) {
  let authFetch = authFetches.get(scenario);
  if (authFetch === undefined) {
    const { url, merchant, policy } = smokeEnv[gateway];
    authFetch = gateways[gateway].create({ ...merchant, baseUrl: url }, policy);
    authFetches.set(scenario, authFetch);
  }
  return authFetch;
}

/** One API call through the scenario's bearer fetch: its status, or the error's name and code. */
async function call(scenario, gateway, smokeEnv, init) {
  try {
    const response = await authFetchFor(scenario, gateway, smokeEnv)(gateways[gateway].path, init);
    await response.arrayBuffer();
    return { status: response.status };
  } catch (error) {
    return { error: error?.name ?? String(error), message: error?.message, ...(isAuthError(error) ? { code: error.code } : {}) };
  }
}

const scenarios = {
  /** `count` concurrent calls on a cold cache of `gateway` (i'mport unless named), one scenario per gateway. */
  async stampede(parameters, smokeEnv) {
    const count = Number(parameters.get('count') ?? '20');
    const gateway = parameters.get('gateway') ?? 'iamport';
    const scenario = gateway === 'iamport' ? 'stampede' : `stampede-${gateway}`;
    const results = await Promise.all(Array.from({ length: count }, () => call(scenario, gateway, smokeEnv)));
    return { statuses: results.map((result) => result.status ?? result.error) };
  },
  /** One call; with `abortMs`, this caller stops waiting after that long (a token request it started goes on). */
  async call(parameters, smokeEnv) {
    const abortMs = parameters.get('abortMs');
    const init = {
      ...(abortMs === null ? {} : { signal: AbortSignal.timeout(Number(abortMs)) }),
      // Bytes rather than a string: the bearer fetch copies shared memory, and must not need SharedArrayBuffer for it.
      ...(parameters.get('body') === 'bytes' ? { method: 'POST', body: new TextEncoder().encode('{}') } : {}),
    };
    return call(parameters.get('scenario'), parameters.get('gateway'), smokeEnv, init);
  },
  /** Whether Node compatibility is on: Node's timers are objects, the Web's are numbers. */
  async mode() {
    const timer = setTimeout(() => undefined, 0);
    clearTimeout(timer);
    return { nodeTimers: typeof timer === 'object' };
  },
  /** A call to another origin: refused before anything is sent there. */
  async foreign(_parameters, smokeEnv) {
    try {
      await authFetchFor('stampede', 'iamport', smokeEnv)(new URL('/steal', smokeEnv.foreignUrl));
      return { refused: false };
    } catch (error) {
      return { refused: isForeignOriginError(error), error: error?.name };
    }
  },
};

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const scenario = scenarios[url.pathname.slice(1)];
    if (scenario === undefined) return new Response('no such scenario', { status: 404 });
    const answer = await scenario(url.searchParams, JSON.parse(env.SMOKE_ENV));
    return Response.json(answer);
  },
};
