/**
 * Waits for a stream's next item or for `ms` of quiet, whichever comes first, on one timer for
 * the whole stream that each wait re-arms (`Timeout.refresh`). A new timer and `Promise.race`
 * for every item left one pending timer and its closures per token sent, alive for `ms` after
 * the token was written.
 */
export function quietWaiter(ms: number) {
  let wake: ((quiet: undefined) => void) | undefined;
  const timer = setTimeout(() => wake?.(undefined), ms).unref();
  return {
    /** `pending`'s value, or undefined once `ms` pass from this call without it. */
    next<T>(pending: Promise<T>): Promise<T | undefined> {
      timer.refresh();
      return new Promise<T | undefined>((resolve, reject) => {
        wake = resolve;
        pending.then(resolve, reject);
      });
    },
    /** Clears the timer; call it when the stream ends, however. */
    stop(): void {
      clearTimeout(timer);
      wake = undefined;
    },
  };
}
