import { QueueFullError } from "@phi4-edge/shared";

interface Waiter<S> {
  pick: (free: readonly S[]) => S;
  resolve: (slot: S) => void;
  reject: (reason: unknown) => void;
  onPosition: (position: number) => void;
}

export interface SlotPoolOptions {
  queueMax: number;
  /** The hint a caller turned away by a full queue gets. */
  retryAfterMs: () => number;
  /** Called with the queue's depth each time it changes (metrics). */
  onQueueChange?: (depth: number) => void;
}

export interface AcquireOptions<S> {
  signal: AbortSignal;
  /**
   * A second signal that ends the wait too (the runner's shutdown), rejecting with its reason:
   * two listeners only while waiting, where `AbortSignal.any` cost every request ~20 µs.
   */
  stop?: AbortSignal;
  /** Chooses among the free slots (e.g. the one holding the longest shared prompt prefix). */
  pick: (free: readonly S[]) => S;
  /** Called with the 1-based queue position when the caller waits, and whenever it moves up. */
  onPosition?: (position: number) => void;
}

/**
 * A fixed set of slots (sequences) and a bounded FIFO queue of callers waiting for one.
 * A full queue throws `QueueFullError` at once; an aborted waiter leaves the queue.
 */
export class SlotPool<S> {
  private free: S[];
  private queue: Waiter<S>[] = [];

  constructor(
    slots: S[],
    private readonly options: SlotPoolOptions,
  ) {
    this.free = [...slots];
  }

  get queueDepth(): number {
    return this.queue.length;
  }

  get freeCount(): number {
    return this.free.length;
  }

  acquire({ signal, stop, pick, onPosition = () => {} }: AcquireOptions<S>): Promise<S> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (stop?.aborted) return Promise.reject(stop.reason);
    if (this.queue.length === 0 && this.free.length > 0) return Promise.resolve(this.take(pick));
    if (this.queue.length >= this.options.queueMax) {
      return Promise.reject(new QueueFullError(this.options.retryAfterMs()));
    }
    return new Promise<S>((resolve, reject) => {
      const leave = (reason: unknown) => {
        const index = this.queue.indexOf(waiter);
        if (index >= 0) {
          this.queue.splice(index, 1);
          this.announce(index);
          this.queueChanged();
        }
        waiter.reject(reason);
      };
      const onAbort = () => leave(signal.reason);
      const onStop = () => leave(stop?.reason);
      const unlisten = () => {
        signal.removeEventListener("abort", onAbort);
        stop?.removeEventListener("abort", onStop);
      };
      const waiter: Waiter<S> = {
        pick,
        onPosition,
        resolve: (slot) => {
          unlisten();
          resolve(slot);
        },
        reject: (reason) => {
          unlisten();
          reject(reason);
        },
      };
      signal.addEventListener("abort", onAbort, { once: true });
      stop?.addEventListener("abort", onStop, { once: true });
      this.queue.push(waiter);
      this.queueChanged();
      onPosition(this.queue.length);
    });
  }

  /** Returns a slot; the head of the queue gets it. */
  release(slot: S): void {
    this.free.push(slot);
    let served = 0;
    while (this.free.length > 0 && this.queue.length > 0) {
      const waiter = this.queue.shift() as Waiter<S>;
      served++;
      waiter.resolve(this.take(waiter.pick));
    }
    if (served > 0) {
      this.announce(0);
      this.queueChanged();
    }
  }

  /** Rejects every waiting caller (shutdown). */
  rejectWaiting(reason: unknown): void {
    const waiting = this.queue.splice(0);
    if (waiting.length > 0) this.queueChanged();
    for (const waiter of waiting) waiter.reject(reason);
  }

  private take(pick: (free: readonly S[]) => S): S {
    const slot = pick(this.free);
    this.free.splice(this.free.indexOf(slot), 1);
    return slot;
  }

  private queueChanged() {
    this.options.onQueueChange?.(this.queue.length);
  }

  /** Tells the waiters from `from` on their new positions. */
  private announce(from: number) {
    for (let i = from; i < this.queue.length; i++) this.queue[i]?.onPosition(i + 1);
  }
}
