/**
 * Runs a gateway's standalone emulator (`x-iamport-emulator`, `x-vipps-emulator`) as its users do: a child process
 * over a real socket, its TypeScript source through tsx with the workspace packages from source. For the CLI tests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** How a child process ended, with everything it wrote. */
export interface EmulatorCliExit {
  /** The exit status, `null` when a signal ended it. */
  code: number | null;
  /** The signal that ended it, if one did. */
  signal: NodeJS.Signals | null;
  /** All it wrote to stdout. */
  stdout: string;
  /** All it wrote to stderr. */
  stderr: string;
}

/** A running emulator command. */
export interface EmulatorCliProcess {
  /** The child process. */
  readonly child: ChildProcess;
  /** The first line it prints on stdout (its URL, or `{"url","port"}` with `--json`); rejects if it exits first. */
  readonly firstLine: Promise<string>;
  /** Resolves once it has exited. */
  readonly exited: Promise<EmulatorCliExit>;
  /** Sends `signal` (default SIGTERM) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<EmulatorCliExit>;
}

const running = new Set<ChildProcess>();

/** Starts `script` (a bin's TypeScript source) with `args`; {@link killEmulatorClis} ends what a failed test left. */
export function startEmulatorCli(script: URL, args: readonly string[]): EmulatorCliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@x/source', fileURLToPath(script), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<EmulatorCliExit>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
  const firstLine = new Promise<string>((resolve, reject) => {
    const onData = (): void => {
      const end = stdout.indexOf('\n');
      if (end === -1) return;
      child.stdout!.off('data', onData);
      resolve(stdout.slice(0, end));
    };
    child.stdout!.on('data', onData);
    exited.then(
      (exit) => reject(new Error(`the emulator exited (${exit.code ?? exit.signal}) before printing a line; stderr: ${exit.stderr}`)),
      reject,
    );
  });
  // A test that only expects the exit never reads `firstLine`: its rejection is no unhandled one.
  firstLine.catch(() => {});
  return {
    child,
    firstLine,
    exited,
    stop(signal = 'SIGTERM') {
      child.kill(signal);
      return exited;
    },
  };
}

/** Kills every emulator command still running: for `afterEach`, so a failed test leaves no server behind. */
export async function killEmulatorClis(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once('close', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}
