import type { LlamaContextSequence, Token } from "node-llama-cpp";

/** One of the context's sequences. */
export interface Slot {
  index: number;
  sequence: LlamaContextSequence;
}

/** The free sequence holding the longest prefix of `tokens`; ties go to the emptiest one. */
export function bestPrefixSlot(free: readonly Slot[], tokens: Token[]): Slot {
  let best = free[0] as Slot;
  let bestScore = -1;
  for (const slot of free) {
    const shared = slot.sequence.compareContextTokens(tokens).firstDifferentIndex;
    const better =
      shared > bestScore ||
      (shared === bestScore && slot.sequence.nextTokenIndex < best.sequence.nextTokenIndex);
    if (better) {
      best = slot;
      bestScore = shared;
    }
  }
  return best;
}
