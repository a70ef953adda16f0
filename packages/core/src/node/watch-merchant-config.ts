import { type FSWatcher, watch } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { durationProblem } from '../cache-policy.js';
import { ConfigurationError, isRegistryClosedError } from '../errors.js';
import type { MerchantSettings } from '../merchant-registry.js';
import { printableName } from '../settings-checks.js';
import { configSourceOf, type LoadMerchantConfigOptions, readConfigFile, resolveWithFiles } from './load-merchant-config.js';

/** What {@link watchMerchantConfig} needs of a registry: `createMerchantRegistry`'s registry is one. */
export interface ReloadableMerchantRegistry<Result = unknown> {
  /** Replaces the merchants with these, all or nothing; rejects (changing nothing) when one of them is refused. */
  reload(merchants: Readonly<Record<string, MerchantSettings>>): Promise<Result>;
}

/** Options of {@link watchMerchantConfig}. */
export interface WatchMerchantConfigOptions<Result = unknown> extends LoadMerchantConfigOptions {
  /** How long the files must stay unchanged after a change before the configuration is loaded. @default 200 */
  debounceMs?: number | undefined;
  /** Told the registry's answer to each reload (for `createMerchantRegistry`: what was added, changed and removed). */
  onReload?: ((result: Result) => void) | undefined;
  /**
   * Told why a configuration was not applied: a `ConfigurationError` for a bad edit (not JSON, a missing secret file,
   * a merchant the registry refuses), never quoting a value; the registry keeps the configuration it had.
   * @default process.emitWarning
   */
  onError?: ((error: Error) => void) | undefined;
  /** Closes the watcher when aborted. */
  signal?: AbortSignal | undefined;
}

/** A running {@link watchMerchantConfig}. */
export interface MerchantConfigWatcher {
  /** Stops every file watcher and timer; resolves once a reload under way has settled. Later calls do nothing. */
  close(): Promise<void>;
}

/** One watched folder: which of its entries concern us, and which folder it was when it was armed. */
interface FolderWatch {
  watcher: FSWatcher;
  names: Set<string>;
  /** `dev:ino` of the folder when it was armed: a folder deleted and made again is another folder, to watch anew. */
  identity: string;
  /** Set when the watcher reported an error: it sees nothing any more. */
  failed: boolean;
}

/**
 * Watches a merchant configuration file and every secret file it names (`{ "$file": "…" }`), and on each change loads
 * it as {@link loadMerchantConfig} does (secret files read again) and gives the merchants to `registry.reload`.
 *
 * Folders are watched, not files: an editor that saves by rename, and Kubernetes, which publishes a secret volume by
 * swapping its `..data` symlink, replace a file without changing it, so a watch on its inode would see nothing more.
 * After each change the watches are armed again (before anything is read) for the files the configuration now
 * names, a secret file that does not exist yet (or whose folder does not) included, so creating it is a change too.
 * Changes are gathered for `debounceMs`; loads never overlap.
 *
 * The configuration is loaded once at start (and the registry reloaded, so an edit made since the registry was
 * created is not lost); the returned promise resolves after that. A bad edit (not JSON, a missing secret file, a
 * merchant the registry refuses) is reported through `onError` and changes nothing: the registry keeps what it had.
 * Once the registry is closed (its `reload` rejects with `RegistryClosedError`), that is reported and the watcher
 * closes itself.
 * A relative `path` or `baseDir` resolves against the working directory of the call, once.
 *
 * @example
 * const config = await loadMerchantConfig('merchants.json');
 * const registry = createMerchantRegistry({ providers: { iamport: createIamportProvider }, ...config });
 * const watcher = await watchMerchantConfig('merchants.json', registry, {
 *   onReload: ({ added, changed, removed }) => log.info({ added, changed, removed }, 'merchants reloaded'),
 *   onError: (error) => log.error({ err: error }, 'merchants.json not applied'),
 * });
 * // On shutdown:
 * await watcher.close();
 *
 * @throws {@link @x/core!ConfigurationError | ConfigurationError} (a rejection) for a bad `debounceMs`; the signal's
 * reason when `signal` is aborted before the watcher started.
 */
export async function watchMerchantConfig<Result>(
  path: string | URL,
  registry: ReloadableMerchantRegistry<Result>,
  options: WatchMerchantConfigOptions<Result> = {},
): Promise<MerchantConfigWatcher> {
  const debounceMs = options.debounceMs ?? 200;
  const problem = durationProblem(debounceMs);
  if (problem !== undefined) throw new ConfigurationError({ issues: [{ path: 'debounceMs', message: problem }] });
  const { signal, onReload } = options;
  signal?.throwIfAborted();
  const onError = options.onError ?? ((error: Error) => process.emitWarning(error));
  const resolveOptions = { env: options.env };
  const source = configSourceOf(path, options.baseDir);

  const folders = new Map<string, FolderWatch>();
  let secretFiles: readonly string[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let closed = false;

  const report = (error: unknown): void => {
    if (closed) return;
    notify(onError, error instanceof Error ? error : new Error('The merchant configuration was not applied', { cause: error }));
  };

  const schedule = (): void => {
    if (closed) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(run, debounceMs);
    // A watcher serves the application; it does not keep a process alive that has nothing else to do.
    timer.unref?.();
  };

  /** Watches the folders of `files` (their nearest existing ancestor for those not there yet), and no others. */
  const arm = async (files: readonly string[]): Promise<void> => {
    const wanted = await foldersToWatch(files);
    if (closed) return;
    for (const [folder, watched] of folders) {
      const identity = wanted.get(folder)?.identity;
      if (identity === watched.identity && !watched.failed) continue;
      watched.watcher.close();
      folders.delete(folder);
    }
    for (const [folder, { names, identity }] of wanted) {
      const watched = folders.get(folder);
      if (watched !== undefined) {
        watched.names = names;
        continue;
      }
      try {
        folders.set(folder, watchFolder(folder, names, identity, schedule));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'error';
        report(
          new ConfigurationError({ issues: [{ path: printableName(folder, 512), message: `cannot be watched (${code})` }], cause: error }),
        );
      }
    }
  };

  /** Loads the configuration and reloads the registry with it, or reports why not. Never rejects. */
  const loadOnce = async (): Promise<void> => {
    // Armed before anything is read, so a change made while reading is seen, and loaded next.
    await arm([source.file, ...secretFiles]);
    const read = await readConfigFile(source);
    if (closed) return;
    if ('issues' in read) return report(new ConfigurationError(read));
    let merchants: Readonly<Record<string, MerchantSettings>>;
    try {
      ({ merchants } = await resolveWithFiles(read.config, resolveOptions, source.baseDir, {
        // The files named now are watched, even those that cannot be read: creating or fixing one is a change.
        onSecretFiles: async (files) => {
          secretFiles = files;
          await arm([source.file, ...files]);
        },
      }));
    } catch (error) {
      return report(error);
    }
    if (closed) return;
    try {
      const result = await registry.reload(merchants);
      if (!closed) notify(onReload, result);
    } catch (error) {
      report(error);
      // Nothing to reload any more: watching on would only report the same error at every edit.
      if (isRegistryClosedError(error)) void close();
    }
  };

  function run(): void {
    timer = undefined;
    if (closed) return;
    if (running !== undefined) {
      again = true;
      return;
    }
    running = (async () => {
      do {
        again = false;
        // loadOnce reports what it expects; anything else is reported too, not left to reject `running`.
        await loadOnce().catch(report);
      } while (again && !closed);
    })().finally(() => {
      running = undefined;
    });
  }

  const close = async (): Promise<void> => {
    closed = true;
    signal?.removeEventListener('abort', onAbort);
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    for (const watched of folders.values()) watched.watcher.close();
    folders.clear();
    await running;
  };
  function onAbort(): void {
    void close();
  }
  signal?.addEventListener('abort', onAbort, { once: true });

  run();
  await running;
  signal?.throwIfAborted();
  return { close };
}

/** Calls a listener; one that throws (or rejects) must not stop the watcher. */
function notify<T>(listener: ((value: T) => void) | undefined, value: T): void {
  try {
    const result: unknown = listener?.(value);
    if (result instanceof Promise) result.catch(() => undefined);
  } catch {
    // The listener's own failure is its own to report.
  }
}

/**
 * The folders to watch for `files`, each with the names in it that concern us and its identity: each file's folder
 * and, where the file is a symlink, its target's folder (a file edited in place behind a symlink changes only
 * there). A folder that does not exist is stood in for by its nearest existing ancestor, watching for the name that
 * leads towards the file.
 */
async function foldersToWatch(files: readonly string[]): Promise<Map<string, { names: Set<string>; identity: string }>> {
  const places = new Set<string>();
  await Promise.all(
    files.map(async (file) => {
      places.add(file);
      const target = await realpath(file).catch(() => undefined);
      if (target !== undefined) places.add(target);
    }),
  );
  const wanted = new Map<string, { names: Set<string>; identity: string }>();
  for (const place of places) {
    let folder = dirname(place);
    let name = basename(place);
    for (;;) {
      const stats = await stat(folder).catch(() => undefined);
      if (stats?.isDirectory()) {
        const entry = wanted.get(folder) ?? { names: new Set<string>(), identity: `${stats.dev}:${stats.ino}` };
        entry.names.add(name);
        wanted.set(folder, entry);
        break;
      }
      const parent = dirname(folder);
      if (parent === folder) break;
      name = basename(folder);
      folder = parent;
    }
  }
  return wanted;
}

/** Watches one folder and calls `changed` for each event that may concern `names`. */
function watchFolder(folder: string, names: Set<string>, identity: string, changed: () => void): FolderWatch {
  const watched: FolderWatch = { watcher: undefined as unknown as FSWatcher, names, identity, failed: false };
  watched.watcher = watch(folder, { persistent: false }, (_event, filename) => {
    if (concerns(watched.names, filename)) changed();
  });
  watched.watcher.on('error', () => {
    // The folder went away (or the system stopped the watch): the next load arms a new one.
    watched.failed = true;
    changed();
  });
  return watched;
}

/**
 * Whether an event for `filename` may change a watched file: one of `names`; an entry of Kubernetes' atomic writer
 * (`..data`, `..data_tmp`, `..2026_01_01_…`), whose swap changes every key of a secret volume at once; or an event
 * that does not say which entry changed.
 */
function concerns(names: ReadonlySet<string>, filename: string | Buffer | null): boolean {
  if (filename === null) return true;
  const name = String(filename);
  return names.has(name) || name.startsWith('..');
}
