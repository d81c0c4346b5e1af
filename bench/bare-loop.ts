import type { LlamaContextSequence, Token } from "node-llama-cpp";

export interface BareRun {
  /** From the call to the first token. */
  ttftMs: number;
  /** Wall time per token after the first, first token to last. */
  msPerToken: number;
}

/**
 * One run of node-llama-cpp's bare `LlamaContextSequence.evaluate` loop (no chat logic, no
 * HTTP): the sequence keeps the prompt but its last token, as the runner keeps a repeated
 * prefix, then generates `tokens` greedy tokens.
 */
export async function bareLoop(
  sequence: LlamaContextSequence,
  prompt: Token[],
  tokens: number,
): Promise<BareRun> {
  await sequence.adaptStateToTokens(prompt.slice(0, -1), false);
  const started = performance.now();
  let first = 0;
  let last = 0;
  let generated = 0;
  for await (const _ of sequence.evaluate(prompt.slice(sequence.nextTokenIndex), {
    temperature: 0,
  })) {
    last = performance.now();
    if (!first) first = last;
    if (++generated >= tokens) break;
  }
  return { ttftMs: first - started, msPerToken: (last - first) / (generated - 1) };
}
