import type { LlamaContextSequence, Token } from "node-llama-cpp";

/** One of the context's sequences. */
export interface Slot {
  index: number;
  sequence: LlamaContextSequence;
}

/**
 * The free sequence holding the longest prefix of `tokens`. Ties go to an empty sequence, else
 * to the lowest index (as llama-server picks its slot): a prompt no sequence holds then always
 * displaces the same one and the others keep theirs. Breaking ties by the free list's order
 * (release order) let one such prompt set off a chain: in the decode bench's 4-stream rounds
 * after a one-off prompt, 2–4 of the 4 prompts had their ~34-token tail evaluated again
 * instead of 1 (2026-12).
 */
export function bestPrefixSlot(free: readonly Slot[], tokens: Token[]): Slot {
  let best = free[0] as Slot;
  let bestScore = -1;
  for (const slot of free) {
    const shared = slot.sequence.compareContextTokens(tokens).firstDifferentIndex;
    if (shared > bestScore || (shared === bestScore && preferred(slot, best))) {
      best = slot;
      bestScore = shared;
    }
  }
  return best;
}

function preferred(slot: Slot, than: Slot): boolean {
  const empty = slot.sequence.nextTokenIndex === 0;
  const thanEmpty = than.sequence.nextTokenIndex === 0;
  if (empty !== thanEmpty) return empty;
  return slot.index < than.index;
}
