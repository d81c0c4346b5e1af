/** What the last failed Hub/CDN response said (status and the Hub's `X-Error-Code`). */
export interface HubFailure {
  status: number;
  code?: string;
  message?: string;
}

/**
 * The `fetch` handed to `@huggingface/hub`: the library has no abort, timeout or progress, so this
 * is where they live. An idle timer aborts a request that sends no bytes (headers or body) for
 * `idleMs`; the caller's signal aborts everything; failures are remembered so that errors the
 * library flattens to strings can still be classified.
 */
export class HubFetch {
  lastFailure: HubFailure | undefined;
  /** Status of the last successful response (a 200 to a Range request means the range was ignored). */
  lastStatus = 0;
  idleTimedOut = false;
  /** Ends each body not read to its end yet. */
  private readonly unread = new Set<() => void>();

  constructor(
    private readonly options: {
      idleMs: number;
      signal?: AbortSignal;
      onChunk?: (bytes: number) => void;
    },
  ) {}

  /** Clears what the previous attempt recorded. */
  reset(): void {
    this.lastFailure = undefined;
    this.idleTimedOut = false;
    this.lastStatus = 0;
  }

  /**
   * Cancels the bodies the caller left unread (`fileDownloadInfo` reads only the headers of its
   * `Range: bytes=0-0` probe). Until then each keeps its idle timer, its listener on the signal
   * and its request: the timer alone kept a process that had its model alive for `idleMs`.
   */
  discardUnread(): void {
    for (const discard of [...this.unread]) discard();
  }

  readonly fetch: typeof fetch = async (input, init) => {
    const { signal, idleMs, onChunk } = this.options;
    signal?.throwIfAborted();
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        this.idleTimedOut = true;
        controller.abort(new Error(`no bytes from the Hub for ${idleMs} ms`));
      }, idleMs);
    };
    let discard: (() => void) | undefined;
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (discard) this.unread.delete(discard);
    };
    arm();
    let response: Response;
    try {
      response = await fetch(input, { ...init, signal: controller.signal });
    } catch (error) {
      done();
      throw error;
    }
    if (!response.ok) {
      this.lastFailure = {
        status: response.status,
        ...optional("code", response.headers.get("x-error-code")),
        ...optional("message", response.headers.get("x-error-message")),
      };
    } else {
      this.lastStatus = response.status;
    }
    if (!response.body) {
      done();
      return response;
    }
    arm();
    const reader = response.body.getReader();
    discard = () => {
      done();
      reader.cancel().catch(() => {});
    };
    this.unread.add(discard);
    const body = new ReadableStream<Uint8Array>({
      async pull(out) {
        try {
          const { done: end, value } = await reader.read();
          if (end) {
            done();
            out.close();
            return;
          }
          arm();
          onChunk?.(value.byteLength);
          out.enqueue(value);
        } catch (error) {
          done();
          out.error(error);
        }
      },
      cancel(reason) {
        done();
        return reader.cancel(reason);
      },
    });
    const wrapped = new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
    // The library compares the final URL's origin with the Hub's to decide where to fetch from.
    Object.defineProperty(wrapped, "url", { value: response.url });
    return wrapped;
  };
}

function optional<K extends string>(key: K, value: string | null): Partial<Record<K, string>> {
  return value ? ({ [key]: value } as Record<K, string>) : {};
}
