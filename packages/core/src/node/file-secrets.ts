import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import type { FileSecretLookup } from '../merchant-config.js';
import { hasControlCharacter, printableName } from '../settings-checks.js';

/**
 * Largest secret file, in bytes. Real secrets are under 100 bytes and Kubernetes caps a whole Secret at 1 MiB; a
 * larger file is a wrong path (a log, a binary), and reading it whole would cost memory for nothing.
 */
export const fileSecretMaxBytes = 64 * 1024;

/** Files read at once: enough to overlap the file system's latency, few enough to stay far from EMFILE. */
const concurrentReads = 16;

// O_NONBLOCK makes opening a FIFO return at once (to be refused as "not a regular file") instead of waiting for a
// writer for ever; it changes nothing for a regular file. Windows has no such flag.
const openFlags = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/** What reading one secret file gave: the secret, or what is wrong in words that never quote the content. */
type FileSecret = { secret: string } | { problem: string };

/**
 * The absolute path of a `$file` reference: an absolute one as it is, a relative one against `baseDir`, and
 * `undefined` without a `baseDir` (a relative path is then a problem, never a path against the working directory).
 *
 * @internal
 */
export function secretFilePath(reference: string, baseDir: string | undefined): string | undefined {
  return isAbsolute(reference) ? reference : baseDir === undefined ? undefined : resolve(baseDir, reference);
}

/**
 * Reads every file that `references` (the `$file` paths of a configuration, as written) name, each distinct file once
 * and a few at a time, and returns the lookup the shared resolver calls for each reference. A relative path
 * resolves against `baseDir`, an absolute folder; without one, it is a problem. Once `signal` is aborted, no file is
 * opened any more and the call rejects with its reason.
 */
export async function readFileSecrets(
  references: Iterable<string>,
  baseDir: string | undefined,
  signal?: AbortSignal | undefined,
): Promise<FileSecretLookup> {
  const files = new Map<string, FileSecret | undefined>();
  for (const reference of references) {
    const file = secretFilePath(reference, baseDir);
    if (file !== undefined) files.set(file, undefined);
  }
  const queue = [...files.keys()];
  const worker = async (): Promise<void> => {
    for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
      signal?.throwIfAborted();
      files.set(file, await readFileSecret(file));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrentReads, queue.length) }, worker));
  signal?.throwIfAborted();
  return (reference) => {
    const file = secretFilePath(reference, baseDir);
    if (file === undefined) {
      return {
        problem: `"$file" ${printableName(reference, 256)} is relative, and the configuration was given as an object: pass baseDir or use an absolute path`,
      };
    }
    return files.get(file) ?? { problem: `"$file" ${printableName(file, 512)} was not read` };
  };
}

/** One secret file's content, one trailing `\n` or `\r\n` removed (as `echo` and editors leave it), or its problem. */
async function readFileSecret(file: string): Promise<FileSecret> {
  const named = `"$file" ${printableName(file, 512)}`;
  let handle: FileHandle | undefined;
  let bytes: Uint8Array;
  try {
    handle = await open(file, openFlags);
    const stats = await handle.stat();
    if (stats.isDirectory()) return { problem: `${named} is a directory, not a file` };
    if (!stats.isFile()) return { problem: `${named} is not a regular file` };
    if (stats.size > fileSecretMaxBytes) return { problem: `${named} is larger than ${fileSecretMaxBytes / 1024} KiB` };
    // One byte more than the limit, so a file that grew since `stat` is caught too.
    const buffer = new Uint8Array(fileSecretMaxBytes + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead > fileSecretMaxBytes) return { problem: `${named} is larger than ${fileSecretMaxBytes / 1024} KiB` };
    bytes = buffer.subarray(0, bytesRead);
  } catch (error) {
    // The code only: Node's messages name the path, which is ours to print, but nothing else is needed.
    return { problem: `${named} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})` };
  } finally {
    await handle?.close().catch(() => undefined);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { problem: `${named} is not UTF-8 text` };
  }
  const secret = text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
  if (secret === '') return { problem: `${named} is empty` };
  if (hasControlCharacter(secret)) {
    return { problem: `${named} contains control characters (one trailing line break is removed, no more)` };
  }
  return { secret };
}
