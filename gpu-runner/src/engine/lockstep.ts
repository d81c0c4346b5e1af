/**
 * Holds the replies decoding on one context in step: each reply calls `arrive()` before it
 * queues its next token, and all waiting replies go on together once every member has
 * arrived, so llama.cpp decodes one token of each in one batch per step, as llama-server
 * decodes its slots.
 *
 * Why: node-llama-cpp resolves each sequence's token as its own sampling ends and keeps
 * decoding whatever is queued by then, so 4 free-running replies settled into batches of 3
 * (126 of 128 decodes of a 4 × 96-token run on the 208M bench model) and every token then
 * missed a batch once in four: a third more decodes. A batch of 4 costs about as much as one
 * of 3 on a CPU thread (2026-12, 208M model: 1 token 19.9 ms, 3 tokens 64.5, 4 tokens 75.8).
 *
 * It cannot deadlock: a member that has not arrived is waiting on llama.cpp (which decodes
 * whatever is queued, gate or not) or running its own code, and a reply that ends, fails or is
 * aborted leaves in a `finally`. Replies never wait on their clients (events are buffered), so
 * a slow reader holds no one. A lone reply passes straight through.
 */
export class Lockstep {
  private members = 0;
  private waiting: (() => void)[] = [];

  /** A reply enters its decode loop; call `leave()` of the result when it ends, however. */
  join(): LockstepMember {
    this.members++;
    let left = false;
    return {
      arrive: () =>
        new Promise<void>((resolve) => {
          this.waiting.push(resolve);
          this.releaseIfAll();
        }),
      leave: () => {
        if (left) return;
        left = true;
        this.members--;
        this.releaseIfAll();
      },
    };
  }

  private releaseIfAll() {
    if (this.waiting.length === 0 || this.waiting.length < this.members) return;
    const all = this.waiting;
    this.waiting = [];
    for (const go of all) go();
  }
}

export interface LockstepMember {
  /** Resolves when every member of the gate is ready for its next step. */
  arrive(): Promise<void>;
  leave(): void;
}
