import type { ChatEvent, ChatInput, DoneEvent, FinishReason } from "@phi4-edge/shared";
import { SAMPLING_DEFAULTS } from "@phi4-edge/shared";
import {
  type LlamaContextSequence,
  type LlamaGrammar,
  LlamaGrammarEvaluationState,
  type Token,
} from "node-llama-cpp";
import type { AnswerPlan } from "./answer-plan";
import { AnswerRouter } from "./answer-router";
import type { EngineObserver } from "./engine-observer";
import type { Lockstep } from "./lockstep";
import { ReplyParser, type ReplyPiece, type ThoughtTags } from "./reply-parser";
import { TokenDecoder } from "./token-decoder";

/** How the loaded model marks its reasoning, worked out once at load (`replyFormat`). */
export interface ReplyFormat {
  thought?: ThoughtTags;
  /** Tokens of the open tag (none when the template opens the thought itself). */
  openTokens: Token[];
  /** Tokens of the close tag, evaluated when the reasoning budget forces the answer. */
  closeTokens: Token[];
  /** Text of tag tokens that detokenizing would hide (control tokens). */
  tagTokens: ReadonlyMap<Token, string>;
}

export interface ReplyRequest {
  input: ChatInput;
  /** The rendered prompt, already checked to fit. */
  tokens: Token[];
  /** The rendered prompt ends inside an open thought (its template prefilled the open tag). */
  startsInThought: boolean;
  /**
   * How the answer is shaped (free text, JSON, tool calls). Its grammar constrains the answer
   * only: sampling is free while the model reasons and follows the grammar from the first
   * token after the thought's close tag (a tool call under `auto`: from after `<tool_call>`).
   */
  plan: AnswerPlan;
  /** The caller's signal: aborting it throws its reason. */
  signal: AbortSignal;
  /** The runner's shutdown: ends the reply with `finishReason: "abort"`. */
  stop: AbortSignal;
  /** When the request reached the engine (performance.now()), for TTFT. */
  started: number;
  contextSize: number;
  /** The context's replies step together through it, one batch per step. */
  lockstep: Lockstep;
  emit: (event: ChatEvent) => void;
}

/**
 * Generates one reply on a context sequence with a loop of our own over
 * `LlamaContextSequence.evaluateWithMetadata`: keep the prompt prefix the sequence already
 * holds, evaluate the rest, then one step per token — sample, detokenize, split reasoning
 * from answer (`ReplyParser`), emit, check the stop conditions.
 *
 * Why not `LlamaChat.generateResponse`: (1) its `grammar` constrains from the first token, so a
 * reasoning model answers in JSON with no thought at all; a grammar that starts after the
 * thought needs the loop in our hands. (2) It renders the chat history again although the
 * engine has already rendered it to pick a sequence. (3) Speed: this loop adds ~0.1–0.2 ms of
 * main-thread CPU a token to node-llama-cpp's own evaluate path (~0.35 ms of locks and batch
 * queue over a bare addon loop). The gap to llama-server is not compute: per token each does
 * ~2.1 ms of native work on the 24M bench model, but node-llama-cpp hands every token to a
 * libuv pool thread twice (decode, then sample) and back to the main thread, where llama-server
 * stays on one thread; on 2 busy cores each hand-off also waits for a CPU. Measured in
 * 2026-12, interleaved with llama-server on 2 busy cores, neither way out is worth a fork:
 * node-llama-cpp built from its bundled source natively (as llama-server is built, with or
 * without OpenMP) costs the same on the pool thread (24M 2.07 vs 2.15 ms a token, 208M 22.0 vs
 * 22.0), and through the runner the builds' ranges overlap (single stream 0.48–0.80×
 * llama-server vs the prebuilt's 0.53–0.74×, 7 runs); a patched addon call that decodes and
 * samples in one hand-off gained ~10% in a bare loop (−5 to +37%) and reached 0.53–0.79×
 * through the runner: short of 1×, for a fork CI would have to build from source (12–15 min on
 * 2 cores). Hence the prebuilt addon and 2 pool threads, not libuv's 4
 * (`gpu-runner/Dockerfile`). Dispatching a lone reply's next decode at once and sending its
 * events after it did not move tok/s either, so the loop stays this simple. A repeated
 * prompt's TTFT is mostly its tail after the cached prefix (34 tokens in the decode bench,
 * evaluated by llama-server too); rendering (`PromptRenderer`), tokenizing (`memoTokenizer`) and
 * `adaptStateToTokens` take ~0.2 ms of it (2026-12, ~1.5 ms before those two memos).
 * See `bench/decode.ts` for the comparison with llama-server, and `bench/decode-wall.ts` for
 * the proof that the gap sits in node-llama-cpp's evaluate path: its bare loop, with no chat
 * logic and no HTTP, already decodes slower than llama-server, while llama.cpp's own counters
 * give its `llama_decode` about the time llama-server's whole loop takes (0.97–1.10×, 2026-12:
 * the bare loop's 0.68–0.76× is ~0.8 ms a token outside llama.cpp). Concurrent replies step
 * together through `Lockstep`, so each step decodes one token of every reply in one batch. 4 of
 * them meet the same wall (same bench, 2026-12): node-llama-cpp's bare loop on 4 sequences in
 * lockstep reaches 0.87–0.97× `llama-server -np 4` (5 runs, median 0.91); its batch's
 * `llama_decode` alone takes 0.95–1.05× llama-server's whole step, and ~0.7 ms a step (~9%)
 * goes outside it (~0.35 with one sequence: each sequence is sampled with a pool hand-off of
 * its own, ~0.13 ms): time llama-server's step does not spend, and the wall for any loop on
 * node-llama-cpp's API on this model. Here each reply's own token work and socket write
 * (~0.15–0.2 ms: the main thread takes 0.6–0.8 ms more CPU a step than the bare loop's, a third
 * of it in the kernel) also fall between those hand-offs, before the step's batch can go: the
 * runner reached 0.72–0.88× llama-server (5 interleaved runs, 2 cores loaded 2.5–3.5), 0.80×
 * the bare loop. On the 208M bench model (~14 ms a token) the wall is thinner but still there
 * (same bench, 5 runs, 2026-12, load 0.8–1.6): the bare loop reaches 0.93× llama-server with one
 * stream (0.70–1.08) and 0.97× with 4 (0.92–1.04), its `llama_decode` ~1.0× llama-server's
 * whole loop, with ~0.6–0.8 ms a token and ~1.4–2.3 ms a step (~3%) outside it. Through the
 * runner (`bench/decode.ts`, one run) one stream came out 0.95× and 4 streams 0.91×; timed per
 * step around one bare run (6 rounds of 4 × 96 tokens, llama.cpp's counters in the runner's
 * context), its `llama_decode` took what the bare loop's did (67–76 vs 68 ms a step) and 2.1–2.9
 * ms a step went outside it (bare 2.5): there the runner adds little to that wall, and the runs'
 * own spread (llama-server's step 60–68 ms over the 5 runs) is as large as the gap.
 *
 * Structured output: the answer's text pieces go through `AnswerRouter`, which says which
 * grammar (the plan's JSON schema or tool call) constrains the next token; it is applied through
 * `grammarEvaluationState` only once the parser is in the answer, so the reasoning stays free.
 * The router turns a call into `tool_call` events (finish reason `tool_calls`) and ends the
 * reply when the grammar's value is complete. A reply that does not open its thought has its
 * first token sampled again under the grammar. A reply that must reason first can have the open
 * tag appended to `tokens` with `startsInThought: true`.
 */
export async function generateReply(
  sequence: LlamaContextSequence,
  format: ReplyFormat,
  request: ReplyRequest,
  observer: EngineObserver,
): Promise<DoneEvent> {
  const { input, tokens, signal, stop, emit } = request;
  const model = sequence.model;
  const budget = input.reasoning?.budget;
  const maxTokens = Math.min(
    input.maxTokens ?? Number.POSITIVE_INFINITY,
    request.contextSize - tokens.length,
  );
  const parser = new ReplyParser({
    thought: format.thought,
    startsInThought: request.startsInThought,
    stop: input.stop,
  });
  const decoder = new TokenDecoder(model, format.tagTokens);
  const router = new AnswerRouter(request.plan, emit);
  // One evaluation state per grammar: it tracks what the grammar has accepted so far.
  let grammar: { of: LlamaGrammar; state: LlamaGrammarEvaluationState } | undefined;
  const grammarState = () => {
    const of = parser.phase === "answer" ? router.grammar : undefined;
    if (!of) return undefined;
    if (grammar?.of !== of)
      grammar = { of, state: new LlamaGrammarEvaluationState({ model, grammar: of }) };
    return grammar.state;
  };
  const send = (pieces: ReplyPiece[]) => {
    for (const piece of pieces) {
      if (piece.type === "text") router.push(piece.text);
      else emit({ type: piece.type, text: piece.text });
    }
  };

  const { cached, rest } = await evaluatePrompt(sequence, tokens, signal);
  // The last prompt token is always evaluated, with the first sampling step.
  const evaluated = tokens.length - cached;
  observer.promptTokens(evaluated, cached);

  let completionTokens = 0;
  let reasoningTokens = 0;
  let budgetSpent = false;
  let finishReason: FinishReason = "stop";
  let firstAt: number | undefined;
  let lastAt = 0;
  const constrained = request.plan.kind !== "text";
  const evaluate = (next: Token[]) =>
    sequence.evaluateWithMetadata(
      next,
      {},
      {
        temperature: input.temperature ?? SAMPLING_DEFAULTS.temperature,
        topP: input.topP ?? SAMPLING_DEFAULTS.topP,
        topK: input.topK ?? SAMPLING_DEFAULTS.topK,
        seed: input.seed,
        yieldEogToken: true,
        grammarEvaluationState: constrained ? grammarState : undefined,
      },
    );
  let steps = evaluate(rest);
  const member = request.lockstep.join();
  try {
    let feed: Token[] | undefined;
    for (;;) {
      await member.arrive();
      // `feed` replaces the sampled token as what is evaluated next (the budget's close tag).
      const step = await steps.next(feed);
      feed = undefined;
      if (signal.aborted) throw signal.reason;
      if (step.done) break;
      const token = step.value.token;
      if (constrained && parser.phase === "start" && token !== format.openTokens[0]) {
        // The reply skips its thought, but its first token was sampled free (the grammar waits
        // for the answer): sample it again under the grammar. Its logits come from the last
        // prompt token, so that one is taken back and evaluated once more.
        parser.skipThought();
        await steps.return(undefined);
        const last = tokens.length - 1;
        await sequence.eraseContextTokenRanges([{ start: last, end: last + 1 }]);
        steps = evaluate(tokens.slice(last));
        continue;
      }
      const now = performance.now();
      const gap = firstAt === undefined ? undefined : now - lastAt;
      firstAt ??= now;
      lastAt = now;
      completionTokens++;
      const end = model.isEogToken(token);
      if (!end) {
        const before = parser.phase;
        send(parser.push(decoder.push(token)));
        if (before === "reasoning" && parser.phase === "reasoning") reasoningTokens++;
      }
      // Metrics once the token's event is out: the caller's wait for it ends first.
      if (gap === undefined) observer.firstToken(now - request.started);
      else observer.interToken(gap);
      observer.tokensGenerated(1);
      if (end) break;
      // A grammar's value is complete when it says so, whatever the model would add.
      if (parser.phase === "stopped" || router.complete) break;
      if (stop.aborted) {
        finishReason = "abort";
        break;
      }
      if (completionTokens >= maxTokens) {
        finishReason = "length";
        break;
      }
      if (budget !== undefined && parser.phase === "reasoning" && reasoningTokens >= budget) {
        budgetSpent = true;
        send(parser.closeThought());
        // The close tag is forced, not generated: it counts as neither completion nor budget.
        feed = [token, ...format.closeTokens];
      }
    }
  } finally {
    member.leave();
    await steps.return(undefined);
  }
  if (parser.phase !== "stopped") send(parser.push(decoder.flush()));
  send(parser.finish());
  router.finish();
  if (finishReason === "stop" && router.calledTool) finishReason = "tool_calls";
  else if (finishReason === "stop" && budgetSpent) finishReason = "budget";

  const end = performance.now();
  const decodeMs = firstAt === undefined ? 0 : end - firstAt;
  const done: DoneEvent = {
    type: "done",
    finishReason,
    usage: {
      promptTokens: tokens.length,
      reasoningTokens,
      completionTokens,
      cachedTokens: cached,
    },
    timings: {
      ttftMs: (firstAt ?? end) - request.started,
      tokensPerSecond: decodeMs > 0 ? ((completionTokens - 1) / decodeMs) * 1000 : 0,
    },
  };
  emit(done);
  return done;
}

/**
 * Keeps the longest prefix of `tokens` the sequence already holds (the system prompt, earlier
 * turns) and evaluates the rest but its last chunk in batch-sized chunks, checking the
 * caller's signal between them, so a caller who leaves during a long prompt frees the
 * sequence within one batch. Returns how many tokens were reused and those left to evaluate
 * with the first sampling step (at least one: the last prompt token yields the first new token).
 */
async function evaluatePrompt(
  sequence: LlamaContextSequence,
  tokens: Token[],
  signal: AbortSignal,
): Promise<{ cached: number; rest: Token[] }> {
  if (signal.aborted) throw signal.reason;
  await sequence.adaptStateToTokens(tokens.slice(0, -1), false);
  const cached = sequence.nextTokenIndex;
  const rest = tokens.slice(cached);
  const batch = Math.max(1, sequence.context.batchSize);
  while (rest.length > batch) {
    await sequence.evaluateWithoutGeneratingNewTokens(rest.splice(0, batch));
    if (signal.aborted) throw signal.reason;
  }
  return { cached, rest };
}
