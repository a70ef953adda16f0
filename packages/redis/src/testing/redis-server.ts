import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigurationError } from '@x/core';
import { durationProblem } from '@x/core/provider';

/** Options of {@link startRedisServer}. */
export interface RedisServerOptions {
  /** The `redis-server` executable. @default 'redis-server' (from PATH) */
  command?: string | undefined;
  /** Port on 127.0.0.1; pass a stopped server's port to start a new one in its place. @default a free port */
  port?: number | undefined;
  /** How long to wait for "Ready to accept connections", at most 2^31−1 (`maxDurationMs`). @default 5_000 */
  startTimeoutMs?: number | undefined;
}

/** A private, throwaway `redis-server` on 127.0.0.1: no persistence, its own temporary directory. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** The port on 127.0.0.1; pass it to `startRedisServer` to restart in the same place after a kill. */
  readonly port: number;
  /** Process id of `redis-server`. */
  readonly pid: number;
  /** Stops the server with SIGKILL (a crash, no goodbye to clients) and removes its directory. Idempotent. */
  kill(): Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open but nothing is answered, like an overloaded Redis. */
  pause(): void;
  /** Undoes {@link RedisServer.pause}. */
  resume(): void;
  /** Stops the server (SIGTERM) and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

/** Install hint shown when `redis-server` is missing. */
export const redisInstallHint = 'install it with `apt-get install redis-server` (Debian/Ubuntu) or `brew install redis` (macOS)';

/** True when `command --version` runs, i.e. `redis-server` can be started. */
export function isRedisServerAvailable(command = 'redis-server'): boolean {
  const result = spawnSync(command, ['--version'], { stdio: 'ignore', timeout: 5_000 });
  return result.error === undefined && result.status === 0;
}

/**
 * Starts a private `redis-server` on a free port of 127.0.0.1 (`--save '' --appendonly no`, temporary directory).
 * Rejects with a message saying how to install Redis when the executable is missing, and with a `ConfigurationError`
 * for a `startTimeoutMs` that is not above 0 and at most 2^31−1.
 *
 * @example
 * const redis = await startRedisServer();
 * const client = await createClient({ url: redis.url }).connect();
 * // …
 * await redis.stop();
 */
export function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  return startRedisServerWith(options, () => []);
}

/** How {@link startRedisServerWith} starts a server of another kind: a sentinel. @internal */
export interface RedisServerMode {
  /** Writes a configuration file into the server's directory and returns its path; Sentinel needs one it can rewrite. */
  configFile?: ((directory: string) => string) | undefined;
  /** The log line that tells the server is listening. */
  readyLine: string;
}

/** A plain server: no configuration file. */
const serverMode: RedisServerMode = { readyLine: 'Ready to accept connections' };

/**
 * {@link startRedisServer} with more `redis-server` arguments, made for each port tried (a cluster node's bus port),
 * and in another `mode` (a sentinel).
 * @internal
 */
export async function startRedisServerWith(
  options: RedisServerOptions,
  extraArguments: (port: number) => Promise<string[]> | string[],
  mode: RedisServerMode = serverMode,
): Promise<RedisServer> {
  const command = options.command ?? 'redis-server';
  const startTimeoutMs = options.startTimeoutMs ?? 5_000;
  const timeoutProblem = durationProblem(startTimeoutMs, { positive: true });
  if (timeoutProblem !== undefined) {
    throw new ConfigurationError({ provider: 'redis', issues: [{ path: 'startTimeoutMs', message: timeoutProblem }] });
  }
  // A free port can be taken between our probe and Redis' bind: try a few.
  for (let attempt = 1; ; attempt += 1) {
    const port = options.port ?? (await freePort());
    try {
      return await launch(command, port, startTimeoutMs, await extraArguments(port), mode);
    } catch (error) {
      if (options.port !== undefined || attempt >= 3 || !String((error as Error).message).includes('in use')) throw error;
    }
  }
}

async function launch(
  command: string,
  port: number,
  startTimeoutMs: number,
  extraArguments: string[],
  mode: RedisServerMode,
): Promise<RedisServer> {
  const directory = mkdtempSync(join(tmpdir(), 'x-redis-'));
  const child: ChildProcess = spawn(
    command,
    [
      // redis-server reads a configuration file only as its first argument.
      ...(mode.configFile === undefined ? [] : [mode.configFile(directory)]),
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      directory,
      '--daemonize',
      'no',
      ...extraArguments,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const removeDirectory = (): void => rmSync(directory, { recursive: true, force: true });
  // Never leave a server behind when the test process ends abruptly.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  let output = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`redis-server did not start within ${startTimeoutMs} ms:\n${output}`)),
        startTimeoutMs,
      );
      const onData = (chunk: Buffer): void => {
        output += chunk.toString('utf8');
        if (output.includes(mode.readyLine)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(error.code === 'ENOENT' ? new Error(`${command} was not found on PATH: ${redisInstallHint}`, { cause: error }) : error);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        const reason = output.includes('Address already in use') ? 'port already in use' : `exited with code ${code}`;
        reject(new Error(`redis-server ${reason}:\n${output}`));
      });
    });
  } catch (error) {
    child.kill('SIGKILL');
    process.removeListener('exit', killOnExit);
    removeDirectory();
    throw error;
  }
  child.stdout?.resume();
  child.stderr?.resume();

  const end = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGCONT');
      child.kill(signal);
      await exited;
    }
    process.removeListener('exit', killOnExit);
    removeDirectory();
  };

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid ?? -1,
    kill: () => end('SIGKILL'),
    stop: () => end('SIGTERM'),
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
  };
}

/** A free port on 127.0.0.1 (free when asked). @internal */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('Could not find a free port');
  return address.port;
}
