/**
 * The claim of the spare admission a request went through on, sent once: when the request
 * ends, with its release folded in (one call to the limiter instead of two), or `afterMs`
 * after the request began if it is still running then (a stream), as a plain claim.
 */
export class SpareClaim {
  /** Settles once the claim has been answered (it never rejects: `send` reports its errors). */
  readonly done: Promise<void>;
  private sent = false;
  private readonly timer: ReturnType<typeof setTimeout>;
  private resolve: () => void = () => {};

  constructor(
    private readonly send: (released: boolean) => Promise<void>,
    afterMs: number,
  ) {
    this.done = new Promise((resolve) => {
      this.resolve = resolve;
    });
    this.timer = setTimeout(() => this.fire(false), afterMs);
  }

  /** Sends the claim with the release folded in, unless it has gone already: says which. */
  endWithRelease(): boolean {
    if (this.sent) return false;
    this.fire(true);
    return true;
  }

  private fire(released: boolean): void {
    if (this.sent) return;
    this.sent = true;
    clearTimeout(this.timer);
    const settle = () => this.resolve();
    this.send(released).then(settle, settle);
  }
}
