import { trpcErrorShape, type WireError } from "@phi4-edge/shared/wire-errors";

/** tRPC's JSONL chunk types and statuses (@trpc/server's stream/jsonl.ts). */
const PROMISE = 0;
const FULFILLED = 0;
const REJECTED = 1;
const ITERABLE = 1;
const ITERABLE_RETURN = 0;
const ITERABLE_ERROR = 2;

type EncodedValue = [unknown[], ...[unknown, number, number][]];

/**
 * Follows a tRPC JSONL stream (httpBatchStreamLink) far enough to end it with an error: which
 * promises and async iterables are still open. Lines are read only while a promise is open;
 * after that only iterables are, and their lines (one per event) pass unread.
 */
export class TrpcStreamTail {
  private readonly open = new Map<number, number>();
  private headSeen = false;
  private reading = true;

  constructor(
    /** How many calls the batch holds (`/trpc/model,chat` → 2). */
    private readonly calls: number,
  ) {}

  /** Takes one complete line of the stream. */
  line(text: string): void {
    if (!this.reading || !text.trim()) return;
    try {
      const parsed = JSON.parse(text) as unknown;
      if (!this.headSeen) {
        this.headSeen = true;
        for (const value of Object.values(parsed as Record<string, EncodedValue>))
          this.define(value);
      } else {
        const [id, status, value] = parsed as [number, number, EncodedValue];
        const type = this.open.get(id);
        if (type === PROMISE) {
          this.open.delete(id);
          if (status === FULFILLED) this.define(value);
        } else if (type === ITERABLE && status !== ITERABLE_RETURN && status !== ITERABLE_ERROR) {
          this.define(value);
        } else if (type === ITERABLE) {
          this.open.delete(id);
        }
      }
    } catch {
      // Not ours to judge: the caller's client will see the same line.
    }
    this.reading = [...this.open.values()].includes(PROMISE) || !this.headSeen;
  }

  /** The lines that end every open call with `error` (a head first, if none was sent). */
  errorLines(error: WireError, path: string): string {
    const shape = trpcErrorShape(error, path);
    if (!this.headSeen) {
      const head = Object.fromEntries(
        Array.from({ length: this.calls }, (_, i) => [i, [[{ error: shape }]]]),
      );
      return `${JSON.stringify(head)}\n`;
    }
    return [...this.open]
      .map(
        ([id, type]) =>
          `${JSON.stringify([id, type === PROMISE ? REJECTED : ITERABLE_ERROR, shape])}\n`,
      )
      .join("");
  }

  private define(value: EncodedValue | undefined) {
    if (!Array.isArray(value)) return;
    for (const definition of value.slice(1)) {
      const [, type, id] = definition as [unknown, number, number];
      if (typeof id === "number") this.open.set(id, type);
    }
  }
}
