import type { LlamaContextSequence, Token } from "node-llama-cpp";

export interface BareRun {
  /** From the call to the first token. */
  ttftMs: number;
  /** Wall time per token after the first, first token to last. */
  msPerToken: number;
}

export interface BareLoopOptions {
  /** Tokens to generate (per sequence). */
  tokens: number;
  /**
   * Awaited once the first token is in, before the clock starts for the rest: e.g. to reset
   * llama.cpp's counters, so they cover the same decodes as the wall time.
   */
  afterFirst?: () => Promise<unknown>;
}

/**
 * One run of node-llama-cpp's bare `LlamaContextSequence.evaluate` loop (no chat logic, no
 * HTTP): the sequence keeps the prompt but its last token, as the runner keeps a repeated
 * prefix, then generates `tokens` greedy tokens.
 */
export async function bareLoop(
  sequence: LlamaContextSequence,
  prompt: Token[],
  options: BareLoopOptions,
): Promise<BareRun> {
  await sequence.adaptStateToTokens(prompt.slice(0, -1), false);
  const started = performance.now();
  let ttftMs = 0;
  let first = 0;
  let last = 0;
  let generated = 0;
  for await (const _ of sequence.evaluate(prompt.slice(sequence.nextTokenIndex), {
    temperature: 0,
  })) {
    last = performance.now();
    if (!first) {
      ttftMs = last - started;
      await options.afterFirst?.();
      first = last = performance.now();
    }
    if (++generated >= options.tokens) break;
  }
  return { ttftMs, msPerToken: (last - first) / (generated - 1) };
}

/**
 * node-llama-cpp's bare loop over several sequences of one context in lockstep, as the runner's
 * replies step (gpu-runner/src/engine/lockstep.ts): every step asks each sequence's `evaluate`
 * iterator for its next token at once, so node-llama-cpp puts one token of each into one
 * `llama_decode` (it dispatches the moment every sequence of the context has queued one), then
 * samples each sequence. Each sequence keeps the prompt but its last token, then all generate
 * `tokens` greedy tokens. Returns the wall time per step, first step's tokens to last.
 */
export async function bareLockstep(
  sequences: LlamaContextSequence[],
  prompt: Token[],
  options: BareLoopOptions,
): Promise<{ msPerStep: number }> {
  for (const sequence of sequences) await sequence.adaptStateToTokens(prompt.slice(0, -1), false);
  const iterators = sequences.map((sequence) =>
    sequence
      .evaluate(prompt.slice(sequence.nextTokenIndex), { temperature: 0 })
      [Symbol.asyncIterator](),
  );
  let first = 0;
  let last = 0;
  try {
    for (let step = 0; step < options.tokens; step++) {
      const results = await Promise.all(iterators.map((iterator) => iterator.next()));
      if (results.some((result) => result.done)) throw new Error("a sequence stopped early");
      if (!first) await options.afterFirst?.();
      last = performance.now();
      if (!first) first = last;
    }
  } finally {
    await Promise.all(iterators.map((iterator) => iterator.return?.(undefined)));
  }
  return { msPerStep: (last - first) / (options.tokens - 1) };
}
