/**
 * The Azure SDK's answer to the same problem: `bearerTokenAuthenticationPolicy` in `@azure/core-rest-pipeline`, fed
 * by a `TokenCredential`. Its pipelines run on the SDK's own node:http client.
 */
import type { AccessToken as AzureAccessToken, TokenCredential } from '@azure/core-auth';
import {
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createEmptyPipeline,
  createPipelineRequest,
  type HttpClient,
  type Pipeline,
  type PipelinePolicy,
} from '@azure/core-rest-pipeline';

/** A `TokenCredential` over any token source, e.g. a call to the i'mport emulator. */
export function createCredential(fetchToken: () => Promise<{ accessToken: string; expiresAt: number }>): TokenCredential {
  return {
    async getToken(): Promise<AzureAccessToken> {
      const { accessToken, expiresAt } = await fetchToken();
      return { token: accessToken, expiresOnTimestamp: expiresAt };
    },
  };
}

/**
 * The bearer policy refuses any URL that is not https. The benchmark's servers speak plain HTTP on 127.0.0.1, so
 * requests are addressed as https and this policy, placed after the one being measured and present in the baseline
 * too, turns them back into http just before they are sent.
 */
const loopbackOverHttp: PipelinePolicy = {
  name: 'benchLoopbackOverHttp',
  sendRequest(request, next) {
    request.url = `http${request.url.slice('https'.length)}`;
    return next(request);
  },
};

export interface AzurePipelineSender {
  /** Sends one GET and reads the response; throws unless it is a 200. */
  send(): Promise<void>;
  readonly pipeline: Pipeline;
}

/** A pipeline of one authorization policy (the bearer policy, or a hand-set header) over a shared HTTP client. */
export function createAzureSender(url: string, authorization: PipelinePolicy, httpClient: HttpClient): AzurePipelineSender {
  const pipeline = createEmptyPipeline();
  pipeline.addPolicy(authorization);
  pipeline.addPolicy(loopbackOverHttp);
  const httpsUrl = url.replace(/^http:/, 'https:');
  return {
    pipeline,
    async send() {
      const response = await pipeline.sendRequest(httpClient, createPipelineRequest({ url: httpsUrl, allowInsecureConnection: true }));
      if (response.status !== 200) throw new Error(`Azure pipeline: unexpected status ${response.status}`);
    },
  };
}

/** The Azure SDK's bearer policy with `credential`. */
export function azureBearerPolicy(credential: TokenCredential): PipelinePolicy {
  return bearerTokenAuthenticationPolicy({ credential, scopes: 'iamport' });
}

/** The baseline: the same header, set by hand. */
export function handSetHeaderPolicy(accessToken: string): PipelinePolicy {
  return {
    name: 'benchHandSetHeader',
    sendRequest(request, next) {
      request.headers.set('authorization', `Bearer ${accessToken}`);
      return next(request);
    },
  };
}

export { createDefaultHttpClient };
