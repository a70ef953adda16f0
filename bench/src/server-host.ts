import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import type { IamportEmulatorCounters } from '@x/iamport/testing';

/** What the API server in the child process has seen since the last reset. */
export interface ServerCounters {
  apiRequests: number;
  /** Requests that arrived without `Authorization: Bearer …`: must stay 0, or a subject skipped the header. */
  withoutBearer: number;
}

export type HostRequest = { type: 'counters' } | { type: 'reset' } | { type: 'close' };

export type HostReply =
  | { type: 'ready'; apiUrl: string; emulatorUrl: string }
  | { type: 'counters'; counters: ServerCounters; emulator: IamportEmulatorCounters }
  | { type: 'reset' };

/** The child process that runs the servers, seen from the benchmark process. */
export interface ServerHost {
  /** Origin of the keep-alive API server. */
  readonly apiUrl: string;
  /** Origin of the i'mport emulator, which accepts every `benchCredentials(index)` below `emulatorMerchantCount`. */
  readonly emulatorUrl: string;
  counters(): Promise<ServerCounters>;
  emulatorCounters(): Promise<IamportEmulatorCounters>;
  /** Zeroes every counter and revokes the emulator's tokens. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

/** Forks `server-process.ts` with this process's flags (so `--import tsx` and `--conditions` apply there too). */
export async function startServerHost(): Promise<ServerHost> {
  const child: ChildProcess = fork(new URL('./server-process.ts', import.meta.url), { stdio: 'inherit' });
  const next = async <T extends HostReply['type']>(type: T): Promise<Extract<HostReply, { type: T }>> => {
    for (;;) {
      const [message] = (await once(child, 'message')) as [HostReply];
      if (message.type === type) return message as Extract<HostReply, { type: T }>;
    }
  };
  const ready = await next('ready');
  const ask = async <T extends HostReply['type']>(request: HostRequest, type: T): Promise<Extract<HostReply, { type: T }>> => {
    const reply = next(type);
    child.send(request);
    return reply;
  };
  return {
    apiUrl: ready.apiUrl,
    emulatorUrl: ready.emulatorUrl,
    counters: async () => (await ask({ type: 'counters' }, 'counters')).counters,
    emulatorCounters: async () => (await ask({ type: 'counters' }, 'counters')).emulator,
    reset: async () => {
      await ask({ type: 'reset' }, 'reset');
    },
    close: async () => {
      const exited = once(child, 'exit');
      child.send({ type: 'close' });
      await exited;
    },
  };
}
