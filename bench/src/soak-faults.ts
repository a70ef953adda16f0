/**
 * The soak's fault plan: every request an emulator receives is faulted with probability `rate`, the kind drawn by
 * weight from those that fit its target, from one seeded generator so a run can be replayed from its seed.
 */
import { createSeededRandom } from './seeded-random.js';

/** What a faulted request gets. */
export type SoakFaultKind =
  /** An HTTP 503 in the gateway's own error format. */
  | '5xx'
  /** The connection is reset (TCP RST) without an answer. */
  | 'reset'
  /** No answer at all: the caller's timeout has to cut it. */
  | 'stall'
  /** The gateway revokes the token the API call carries, then answers 401 as it does for any revoked token. */
  | 'revoke';

/** Token endpoints, or the payment APIs the merchants call. */
export type SoakFaultTarget = 'token' | 'api';

/** The kinds each target draws, by weight. */
export const soakFaultWeights: Readonly<Record<SoakFaultTarget, Readonly<Partial<Record<SoakFaultKind, number>>>>> = {
  token: { '5xx': 1, reset: 1, stall: 1 },
  // Revocation concerns a token in use, so only API calls draw it, and rarely: one revocation costs every caller of
  // the merchant its token, and drawn as often as the other kinds it would end each token within a second or so, so
  // no token would live to be refreshed ahead or extended, the paths the other faults are meant to hit.
  api: { '5xx': 10, reset: 10, stall: 10, revoke: 2 },
};

export interface FaultPlan {
  /** The fault for one request, or `undefined` to answer it normally. Counts what it hands out. */
  draw(target: SoakFaultTarget): SoakFaultKind | undefined;
  /** Requests seen and faults handed out, by target and kind. */
  readonly counts: Readonly<Record<SoakFaultTarget, { requests: number; faults: Record<SoakFaultKind, number> }>>;
}

export function createFaultPlan(rate: number, seed: number): FaultPlan {
  if (!(rate >= 0 && rate <= 1)) throw new RangeError('the fault rate must be between 0 and 1');
  const random = createSeededRandom(seed);
  const empty = (): Record<SoakFaultKind, number> => ({ '5xx': 0, reset: 0, stall: 0, revoke: 0 });
  const counts = { token: { requests: 0, faults: empty() }, api: { requests: 0, faults: empty() } };
  return {
    counts,
    draw(target) {
      const count = counts[target];
      count.requests += 1;
      if (random() >= rate) return undefined;
      const weights = Object.entries(soakFaultWeights[target]) as Array<[SoakFaultKind, number]>;
      let draw = random() * weights.reduce((sum, [, weight]) => sum + weight, 0);
      for (const [kind, weight] of weights) {
        draw -= weight;
        if (draw < 0 || kind === weights.at(-1)![0]) {
          count.faults[kind] += 1;
          return kind;
        }
      }
      return undefined;
    },
  };
}
