import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { durationProblem, maxDurationMs } from '../cache-policy.js';
import { ConfigurationError } from '../errors.js';
import { type RawResponse, validateRawResponse, writeRawResponse } from './raw-response.js';

/** Options every fault takes, whatever its `kind`. */
export interface EmulatorFaultOptions<Target extends string> {
  /** How many matching requests in a row the fault answers; `Infinity` for all of them until `clearFaults()`. @default 1 */
  count?: number | undefined;
  /** Which of the emulator's routes fail. @default the emulator's token endpoint(s) */
  target?: Target | undefined;
}

/**
 * A failure an emulator gives instead of (or before) its normal answer: one vocabulary for every gateway. Faults
 * queue in the order given; each answers the next `count` requests its `target` matches.
 */
export type EmulatorFault<Target extends string = string> = EmulatorFaultOptions<Target> &
  (
    | {
        /** An HTTP error with the gateway's own error body. */
        kind: 'status';
        /** HTTP status. @default 500 */
        status?: number | undefined;
      }
    | {
        /** An HTML error page, as a proxy or load balancer sends. */
        kind: 'html';
        /** HTTP status. @default 502 */
        status?: number | undefined;
      }
    | {
        /** `200`, `application/json`, the first half of a success answer: JSON cut off, the HTTP message complete. */
        kind: 'malformed';
      }
    | {
        /** `200` announcing a whole success answer, sending half, then closing the connection. */
        kind: 'truncated';
      }
    | {
        /** Closes the connection without an answer. */
        kind: 'drop';
      }
    | {
        /** Resets the connection (TCP RST) without an answer. */
        kind: 'reset';
      }
    | {
        /** Never answers, not even headers, until the client gives up or the emulator closes. */
        kind: 'stall';
      }
    | {
        /** Answers normally, after a delay. */
        kind: 'slow';
        /** The delay in milliseconds, at most 2^31−1 (`maxDurationMs`; `fault()` refuses more). */
        delayMs: number;
      }
    | ({
        /** Exactly this status, content type and bytes (the `RawResponse` fields), possibly truncated, chunked or stalled. */
        kind: 'raw';
      } & RawResponse)
    | {
        /** Any JSON body, e.g. a token with a wrong field or a gateway's refusal. */
        kind: 'body';
        /** The body, sent as JSON. */
        body: unknown;
        /** HTTP status. @default 200 */
        status?: number | undefined;
      }
  );

/** What a fault is called: `status`, `html`, `malformed`, `truncated`, `drop`, `reset`, `stall`, `slow`, `raw` or `body`. */
export type EmulatorFaultKind = EmulatorFault['kind'];

/** The gateway's bytes for the faults that speak its language. */
export interface EmulatorFaultBodies {
  /** The body of a `status` fault: the gateway's answer to a failure of its own. */
  error(status: number): unknown;
  /** More headers of a `status` fault, e.g. the `Retry-After` of a 429. @default none */
  errorHeaders?: ((status: number) => Readonly<Record<string, string>> | undefined) | undefined;
  /** A success answer's JSON text: `malformed` sends its first half, `truncated` announces all of it and sends half. */
  sample: string;
}

/**
 * Checks a fault when it is queued, so a test's mistake surfaces there and not as a confusing hang: a `RangeError`
 * for a `count` below 1 or a bad raw answer, a `ConfigurationError` naming `provider` for a delay that is not 0 to
 * 2^31−1 ms.
 */
export function validateEmulatorFault(fault: EmulatorFault, provider: string): void {
  if (!((fault.count ?? 1) > 0)) throw new RangeError('fault.count must be at least 1');
  if (fault.kind === 'raw') validateRawResponse(fault);
  const delayProblem = fault.kind === 'slow' ? durationProblem(fault.delayMs) : undefined;
  if (delayProblem !== undefined) throw new ConfigurationError({ provider, issues: [{ path: 'fault.delayMs', message: delayProblem }] });
}

/**
 * Answers a request with `fault`; `normal` gives the normal answer (a `slow` fault's, later). Timers go into
 * `timers`, so the emulator's `close()` can cancel them.
 */
export function answerEmulatorFault(
  fault: EmulatorFault,
  exchange: { response: ServerResponse; socket: Socket },
  normal: () => void,
  bodies: EmulatorFaultBodies,
  timers: Set<NodeJS.Timeout>,
): void {
  const { response, socket } = exchange;
  switch (fault.kind) {
    case 'drop':
      socket.destroy();
      return;
    case 'reset':
      socket.resetAndDestroy();
      return;
    case 'stall':
      return;
    case 'slow': {
      // An injected fault is not checked: a delay longer than a timer holds waits as long as one can.
      const timer = setTimeout(
        () => {
          timers.delete(timer);
          if (!response.destroyed && !socket.destroyed) normal();
        },
        Math.min(fault.delayMs, maxDurationMs),
      );
      timers.add(timer);
      return;
    }
    default:
      writeRawResponse(response, socket, rawAnswerOf(fault, bodies), timers);
  }
}

function rawAnswerOf(
  fault: Exclude<EmulatorFault, { kind: 'drop' | 'reset' | 'stall' | 'slow' }>,
  bodies: EmulatorFaultBodies,
): RawResponse {
  const half = bodies.sample.slice(0, Math.floor(bodies.sample.length / 2));
  switch (fault.kind) {
    case 'status': {
      const status = fault.status ?? 500;
      return { status, headers: bodies.errorHeaders?.(status), body: JSON.stringify(bodies.error(status)) };
    }
    case 'html': {
      const status = fault.status ?? 502;
      const page = `<!DOCTYPE html><html><head><title>${status}</title></head><body><h1>${status}</h1><hr>nginx</body></html>`;
      return { status, contentType: 'text/html; charset=utf-8', body: page };
    }
    case 'malformed':
      return { body: half };
    case 'truncated':
      return { body: half, declaredLength: Buffer.byteLength(bodies.sample) };
    case 'body':
      return { status: fault.status ?? 200, body: JSON.stringify(fault.body) };
    case 'raw':
      return fault;
  }
}
