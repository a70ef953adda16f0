import { type ServerResponse, validateHeaderName, validateHeaderValue } from 'node:http';
import type { Socket } from 'node:net';
import { durationProblem, maxDurationMs } from '../cache-policy.js';
import { ConfigurationError } from '../errors.js';

/** How a raw answer ends once its body bytes are out. */
export type RawResponseEnding =
  /** The response ends normally. */
  | 'complete'
  /** The connection is closed (FIN): a declared length or chunked body is left unfinished, a truncated stream. */
  | 'close'
  /** The connection is reset (RST) mid-body. */
  | 'reset'
  /** Nothing more is sent and the connection stays open until the client gives up or the server closes. */
  | 'stall';

/** An answer given byte for byte, for fuzzing a client's response handling. */
export interface RawResponse {
  /** HTTP status. @default 200 */
  status?: number | undefined;
  /** The reason phrase of the status line (`HTTP/1.1 401 <statusText>`). @default Node's text for the status */
  statusText?: string | undefined;
  /** The `content-type` header; `null` sends none. @default 'application/json; charset=utf-8' */
  contentType?: string | null | undefined;
  /** More headers, e.g. `location` or `content-encoding` (whose value the body is then expected to honour). @default {} */
  headers?: Readonly<Record<string, string>> | undefined;
  /** The body bytes (a string is sent as UTF-8). @default '' */
  body?: string | Uint8Array | undefined;
  /**
   * The `content-length` to declare, at least the body's length; a larger one announces bytes that never come.
   * Without it (and without `chunkSize`) the body's own length is declared.
   */
  declaredLength?: number | undefined;
  /** Sends the body in writes of this many bytes; without `declaredLength` it goes out chunked (no length). */
  chunkSize?: number | undefined;
  /** Pause between two chunks in milliseconds, at most 2^31−1 (`maxDurationMs`). @default 0 */
  chunkDelayMs?: number | undefined;
  /** What happens after the body. @default 'close' when `declaredLength` exceeds the body, else 'complete' */
  ending?: RawResponseEnding | undefined;
}

/**
 * Checks a raw answer when the fault is queued, so a test's mistake surfaces there and not as a confusing hang: a
 * `RangeError` for a bad length or chunk size, a `ConfigurationError` for a `chunkDelayMs` that is not 0 to
 * {@link maxDurationMs}.
 */
export function validateRawResponse(raw: RawResponse): void {
  const length = bodyBytes(raw).length;
  if (raw.declaredLength !== undefined && !(Number.isSafeInteger(raw.declaredLength) && raw.declaredLength >= length)) {
    throw new RangeError(`declaredLength must be a whole number of at least the body's ${length} bytes`);
  }
  if (raw.chunkSize !== undefined && !(Number.isSafeInteger(raw.chunkSize) && raw.chunkSize >= 1)) {
    throw new RangeError('chunkSize must be a whole number of at least 1');
  }
  const delayProblem = raw.chunkDelayMs === undefined ? undefined : durationProblem(raw.chunkDelayMs);
  if (delayProblem !== undefined) throw new ConfigurationError({ issues: [{ path: 'chunkDelayMs', message: delayProblem }] });
  // `writeHead` would throw these in the emulator's request handler, where nothing catches them.
  if (raw.statusText !== undefined && !/^[\t\u0020-\u007e\u0080-\u00ff]*$/.test(raw.statusText)) {
    throw new RangeError('statusText must hold only tabs, spaces and visible Latin-1 characters');
  }
  if (typeof raw.contentType === 'string') validateHeaderValue('content-type', raw.contentType);
  for (const [name, value] of Object.entries(raw.headers ?? {})) {
    validateHeaderName(name);
    validateHeaderValue(name, value);
  }
}

/**
 * Writes `raw` to `response`. Delayed chunks are scheduled through `timers`, so an emulator's `close()` can cancel
 * them; a client that went away stops the writing.
 */
export function writeRawResponse(response: ServerResponse, socket: Socket, raw: RawResponse, timers: Set<NodeJS.Timeout>): void {
  const body = bodyBytes(raw);
  const headers: Record<string, string | number> = { ...raw.headers };
  const contentType = raw.contentType === undefined ? 'application/json; charset=utf-8' : raw.contentType;
  if (contentType !== null) headers['content-type'] = contentType;
  if (raw.declaredLength !== undefined) headers['content-length'] = raw.declaredLength;
  else if (raw.chunkSize === undefined) headers['content-length'] = body.length;
  const ending = raw.ending ?? (raw.declaredLength !== undefined && raw.declaredLength > body.length ? 'close' : 'complete');
  if (raw.statusText === undefined) response.writeHead(raw.status ?? 200, headers);
  else response.writeHead(raw.status ?? 200, raw.statusText, headers);
  // Flushes the headers now, so even an empty, stalled body reaches the client as a response.
  response.flushHeaders();

  const chunkSize = raw.chunkSize ?? Math.max(body.length, 1);
  let offset = 0;
  const finish = (): void => {
    if (ending === 'complete') response.end();
    else if (ending === 'close') socket.end(() => socket.destroy());
    else if (ending === 'reset') socket.resetAndDestroy();
  };
  const writeNext = (): void => {
    if (response.destroyed || socket.destroyed) return;
    if (offset >= body.length) {
      finish();
      return;
    }
    const chunk = body.subarray(offset, offset + chunkSize);
    offset += chunk.length;
    // The next chunk (or the ending) waits until this one is handed to the socket, so a reset cuts after it.
    response.write(chunk, () => {
      if (raw.chunkDelayMs === undefined || raw.chunkDelayMs <= 0) {
        writeNext();
        return;
      }
      // An unchecked answer (an emulator's injectFault) may ask for longer than a timer holds: wait as long as one can.
      const timer = setTimeout(
        () => {
          timers.delete(timer);
          writeNext();
        },
        Math.min(raw.chunkDelayMs, maxDurationMs),
      );
      timers.add(timer);
    });
  };
  writeNext();
}

function bodyBytes(raw: RawResponse): Buffer {
  if (raw.body === undefined) return Buffer.alloc(0);
  return typeof raw.body === 'string'
    ? Buffer.from(raw.body, 'utf8')
    : Buffer.from(raw.body.buffer, raw.body.byteOffset, raw.body.byteLength);
}
