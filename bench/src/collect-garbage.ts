/**
 * The heap after garbage collection, for the memory figures (node runs with `--expose-gc`). Each pass follows a turn
 * of the event loop: a WeakRef's target (undici's abort signals) stays alive until the job that made it ends, and a
 * collection inside that job counted up to 1 KB per merchant of them, at random. Twice, as the first pass may leave
 * objects whose finalisation frees more.
 */
export async function collectGarbage(figure: string): Promise<number> {
  const gc = globalThis.gc;
  if (gc === undefined) throw new Error(`${figure}: run node with --expose-gc`);
  for (let pass = 0; pass < 2; pass += 1) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    gc();
  }
  return process.memoryUsage().heapUsed;
}
