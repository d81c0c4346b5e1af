import { basename } from "node:path";
import {
  type ChatEvent,
  type ChatInput,
  type ChatOptions,
  ContextOverflowError,
  type Engine,
  type FinishReason,
  type ModelInfo,
  NotReadyError,
  type Phase,
  QueueFullError,
  UnavailableError,
} from "@phi4-edge/shared";
import { type ChatWrapper, GgufFileType, resolveChatWrapper, type Tokenizer } from "node-llama-cpp";
import type pino from "pino";
import { AnswerPlanner } from "./answer-plan";
import { bestPrefixSlot, type Slot } from "./best-prefix-slot";
import { Channel } from "./channel";
import { DrainingError, ModelLoadError } from "./engine-errors";
import { type EngineObserver, NO_OBSERVER, type Outcome } from "./engine-observer";
import { generateReply, type ReplyFormat } from "./generate-reply";
import { type GpuSetting, type LoadedLlama, loadLlama } from "./load-llama";
import { Lockstep } from "./lockstep";
import { memoTokenizer } from "./memo-tokenizer";
import { assertPromptMayFit, maxTokenBytes } from "./prompt-bound";
import { PromptRenderer } from "./prompt-renderer";
import { type Readiness, ReadinessState } from "./readiness";
import { replyFormat } from "./reply-format";
import { SlotPool } from "./slot-pool";
import { toChatHistory } from "./to-chat-history";

export interface LlamaEngineOptions {
  gpu: GpuSetting;
  threads: number;
  parallel: number;
  contextSize: number;
  queueMax: number;
  logger: pino.Logger;
  observer?: EngineObserver;
  /** How long a chat made during the cold start waits for the model. Default 15 minutes. */
  readyTimeoutMs?: number;
}

/** Where the served model came from, for `model()` and `/v1/models`. */
export interface ModelSource {
  repo: string;
  file: string;
  revision: string;
}

interface Loaded extends LoadedLlama {
  wrapper: ChatWrapper;
  /** Renders chat histories with `wrapper`, remembering each history shape's rendering. */
  renderer: PromptRenderer;
  format: ReplyFormat;
  planner: AnswerPlanner;
  pool: SlotPool<Slot>;
  lockstep: Lockstep;
  /** The model's tokenizer, remembering the prompt's segments (system prompt, earlier turns). */
  tokenizer: Tokenizer;
  info: ModelInfo;
  /** Bytes one token can stand for at most: bounds a prompt's tokens from its size. */
  maxTokenBytes: number | undefined;
}

const SHUTDOWN = Symbol("shutdown");

/**
 * The Engine on node-llama-cpp: one model, one context with `parallel` sequences, a bounded
 * FIFO queue in front of them. A request prefers the free sequence that already holds the
 * longest prefix of its prompt, so the long system prompt and chat history are not evaluated
 * again. It can be created before the model exists: chats made during the cold start wait,
 * streaming `downloading`/`loading` status events.
 */
export class LlamaEngine implements Engine {
  private readonly state = new ReadinessState(() => this.reportPhase());
  private loaded: Loaded | undefined;
  private readonly shutdown = new AbortController();
  private draining = false;
  private active = 0;
  private recentServiceMs: number[] = [];
  private readonly observer: EngineObserver;

  constructor(private readonly options: LlamaEngineOptions) {
    this.observer = options.observer ?? NO_OBSERVER;
  }

  readiness(): Readiness {
    const current = this.state.current;
    if (this.draining && current.phase !== "failed") return { phase: "draining" };
    return current;
  }

  stats() {
    return { queueDepth: this.loaded?.pool.queueDepth ?? 0, activeSequences: this.active };
  }

  /** Cold-start progress reported by the model store (0..1). */
  setDownloading(progress?: number): void {
    this.state.set({ phase: "downloading", progress });
  }

  /** The download failed: every waiting and future chat fails with this error. */
  fail(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.state.set({ phase: "failed", error: message });
  }

  /** Loads the GGUF at `path`; the engine is ready when this resolves. */
  async load(path: string, source: ModelSource = localSource(path)): Promise<void> {
    const started = performance.now();
    this.state.set({ phase: "loading", progress: 0 });
    try {
      const loaded = await loadLlama({
        modelPath: path,
        gpu: this.options.gpu,
        threads: this.options.threads,
        parallel: this.options.parallel,
        contextSize: this.options.contextSize,
        logger: this.options.logger,
        signal: this.shutdown.signal,
        onProgress: (progress) => this.state.set({ phase: "loading", progress }),
      });
      const wrapper = resolveChatWrapper(loaded.model);
      if (!wrapper) throw new ModelLoadError("the model has no usable chat template");
      const slots: Slot[] = [];
      for (let index = 0; index < this.options.parallel; index++) {
        slots.push({ index, sequence: loaded.context.getSequence() });
      }
      const pool = new SlotPool(slots, {
        queueMax: this.options.queueMax,
        retryAfterMs: () => this.retryAfterMs(),
        onQueueChange: () => this.reportOccupancy(),
      });
      const fileType = loaded.model.fileInfo.metadata.general?.file_type;
      const info: ModelInfo = {
        ...source,
        quantization: fileType === undefined ? "unknown" : quantName(fileType),
        contextSize: loaded.context.contextSize,
        parallel: this.options.parallel,
        gpu: loaded.gpu,
      };
      this.loaded = {
        ...loaded,
        wrapper,
        renderer: new PromptRenderer(wrapper),
        format: replyFormat(loaded.model, wrapper),
        planner: new AnswerPlanner(loaded.llama),
        pool,
        lockstep: new Lockstep(),
        tokenizer: memoTokenizer(loaded.model.tokenizer),
        info,
        maxTokenBytes: maxTokenBytes(loaded.model),
      };
      const loadSeconds = (performance.now() - started) / 1000;
      this.observer.modelLoaded(loadSeconds);
      this.options.logger.info({ loadSeconds, wrapper: wrapper.wrapperName }, "engine ready");
      this.state.set({ phase: "ready" });
    } catch (error) {
      this.fail(error);
      throw error;
    }
  }

  model(): ModelInfo {
    if (!this.loaded) throw this.notReady();
    return this.loaded.info;
  }

  async *chat(input: ChatInput, options: ChatOptions): AsyncIterable<ChatEvent> {
    if (options.signal.aborted) throw options.signal.reason;
    const channel = new Channel<ChatEvent>();
    // Ends the work when the caller aborts or the consumer stops iterating. A listener, not
    // AbortSignal.any: that cost ~20 µs a request even warm (2026-12, Node 22), twice the
    // rest of this function.
    const left = new AbortController();
    const forward = () => left.abort(options.signal.reason);
    options.signal.addEventListener("abort", forward, { once: true });
    const signal = left.signal;
    const job = this.serve(input, { ...options, signal }, (event) => channel.push(event)).then(
      () => channel.close(),
      (error) => channel.close(error),
    );
    try {
      yield* channel;
    } finally {
      options.signal.removeEventListener("abort", forward);
      left.abort(new Error("stream consumer left"));
      await job;
    }
  }

  /**
   * Stops taking requests, lets running and queued streams finish until `deadlineMs`, then
   * ends the rest with `finishReason: "abort"`. Resolves when no sequence is busy.
   */
  async drain(deadlineMs: number): Promise<void> {
    this.draining = true;
    this.reportPhase();
    const idle = () => this.active === 0 && (this.loaded?.pool.queueDepth ?? 0) === 0;
    await this.state.until(idle, deadlineMs);
    if (!idle()) {
      this.options.logger.warn(
        { active: this.active, queued: this.loaded?.pool.queueDepth ?? 0 },
        "drain deadline reached, ending streams",
      );
    }
    this.shutdown.abort(SHUTDOWN);
    this.loaded?.pool.rejectWaiting(SHUTDOWN);
    this.state.changed();
    await this.state.until(() => this.active === 0, 30_000);
  }

  async dispose(): Promise<void> {
    this.shutdown.abort(SHUTDOWN);
    await this.loaded?.context.dispose();
    await this.loaded?.model.dispose();
    await this.loaded?.llama.dispose();
    this.loaded = undefined;
  }

  private async serve(
    input: ChatInput,
    options: ChatOptions,
    emit: (event: ChatEvent) => void,
  ): Promise<void> {
    const { signal } = options;
    const started = performance.now();
    let outcome: Outcome = "error";
    // Made when a line is written, after the reply: not on the way to the first token.
    const log = () => this.options.logger.child({ requestId: options.requestId });
    try {
      const waited = await this.waitReady(signal, emit);
      const loaded = this.loaded as Loaded;
      if (this.draining) throw new DrainingError();
      const contextSize = loaded.context.contextSize;
      await assertPromptMayFit(input.messages, {
        contextSize,
        maxTokenBytes: loaded.maxTokenBytes,
        countTokens: (text) => loaded.model.tokenize(text).length,
        signal,
      });
      const prompt = loaded.renderer.render(toChatHistory(input.messages, input));
      const plan = await loaded.planner.plan(input);
      const tokens = prompt.tokenize(loaded.tokenizer);
      // One free cell is needed to generate anything at all.
      if (tokens.length >= contextSize) throw new ContextOverflowError(tokens.length, contextSize);
      let queued = false;
      const slot = await loaded.pool.acquire({
        signal,
        stop: this.shutdown.signal,
        pick: (free) => bestPrefixSlot(free, tokens),
        onPosition: (position) => {
          queued = true;
          emit({ type: "status", phase: "queued", position });
        },
      });
      this.active++;
      this.reportOccupancy();
      const served = performance.now();
      try {
        if (waited || queued) emit({ type: "status", phase: "ready" });
        // Two loop turns later: node-llama-cpp dispatches the prompt's decode on the next turn,
        // so what the caller does then (the OpenAI route writes its headers) runs while the
        // decode does, not before it. Called at once, the stream start delayed the decode by
        // ~0.3 ms (2026-12, 24M bench model).
        const onStarted = options.onStarted;
        if (onStarted) setImmediate(() => setImmediate(onStarted));
        const done = await generateReply(
          slot.sequence,
          loaded.format,
          {
            input,
            tokens,
            startsInThought: opensThought(prompt.toString(), loaded.format),
            plan,
            signal,
            stop: this.shutdown.signal,
            started,
            contextSize: loaded.context.contextSize,
            lockstep: loaded.lockstep,
            emit,
          },
          this.observer,
        );
        outcome = done.finishReason;
        log().info(
          {
            slot: slot.index,
            finishReason: done.finishReason,
            ...done.usage,
            ttftMs: Math.round(done.timings.ttftMs),
            tokensPerSecond: Math.round(done.timings.tokensPerSecond * 10) / 10,
          },
          "chat done",
        );
      } finally {
        this.active--;
        this.reportOccupancy();
        this.remember(performance.now() - served);
        loaded.pool.release(slot);
        this.state.changed();
      }
    } catch (error) {
      if (error === SHUTDOWN && !signal.aborted) {
        outcome = "abort";
        emit(emptyDone("abort"));
        return;
      }
      outcome = classify(error, signal);
      if (outcome !== "cancelled") log().warn({ outcome, err: errorMessage(error) }, "chat failed");
      throw signal.aborted ? signal.reason : error;
    } finally {
      this.observer.requestEnded(outcome);
    }
  }

  /** Waits through the cold start, streaming its phases; true when it had to wait. */
  private async waitReady(signal: AbortSignal, emit: (event: ChatEvent) => void): Promise<boolean> {
    if (this.state.current.phase === "ready") return false;
    const deadline = Date.now() + (this.options.readyTimeoutMs ?? 15 * 60_000);
    let last: { phase?: string; percent?: number } = {};
    for (;;) {
      if (signal.aborted) throw signal.reason;
      const { phase, progress, error } = this.readiness();
      if (phase === "draining") throw new DrainingError();
      if (phase === "ready") return true;
      if (phase === "failed") throw new ModelLoadError(`model failed to load: ${error}`);
      const percent = progress === undefined ? undefined : Math.floor(progress * 100);
      if (phase !== last.phase || percent !== last.percent) {
        last = { phase, percent };
        const event: ChatEvent = { type: "status", phase };
        if (progress !== undefined) event.progress = Math.min(1, Math.max(0, progress));
        emit(event);
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw this.notReady();
      await this.state.nextChange(signal, remaining);
    }
  }

  private reportPhase() {
    this.observer.phase(this.readiness().phase);
  }

  private reportOccupancy() {
    const { activeSequences, queueDepth } = this.stats();
    this.observer.occupancy(activeSequences, queueDepth);
  }

  private notReady(): NotReadyError {
    const { phase, progress } = this.state.current;
    const publicPhase: Phase = phase === "loading" ? "loading" : "downloading";
    return new NotReadyError(publicPhase, progress);
  }

  private remember(serviceMs: number) {
    this.recentServiceMs.push(serviceMs);
    if (this.recentServiceMs.length > 20) this.recentServiceMs.shift();
  }

  /**
   * A hint for a caller turned away: about when the queue ahead of it has drained, from the
   * recent service times. (Counting queue waits as service made a full queue say 60 s when it
   * drained in 8.)
   */
  private retryAfterMs(): number {
    const recent = this.recentServiceMs;
    const average = recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : 1_000;
    const waiting = this.loaded?.pool.queueDepth ?? 0;
    const estimate = (average * waiting) / this.options.parallel;
    return Math.round(Math.min(60_000, Math.max(250, estimate)));
  }
}

/** The rendered prompt ends inside an open thought (the template prefilled the open tag). */
function opensThought(prompt: string, format: ReplyFormat): boolean {
  return format.thought !== undefined && prompt.trimEnd().endsWith(format.thought.open);
}

function emptyDone(finishReason: FinishReason): ChatEvent {
  return {
    type: "done",
    finishReason,
    usage: { promptTokens: 0, reasoningTokens: 0, completionTokens: 0 },
    timings: { ttftMs: 0, tokensPerSecond: 0 },
  };
}

function classify(error: unknown, signal: AbortSignal): Outcome {
  if (signal.aborted) return "cancelled";
  if (error instanceof ContextOverflowError) return "bad_request";
  if (error instanceof QueueFullError) return "queue_full";
  if (error instanceof NotReadyError || error instanceof UnavailableError) return "not_ready";
  return "error";
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function localSource(path: string): ModelSource {
  return { repo: "local", file: basename(path), revision: "local" };
}

/** `MOSTLY_Q4_K_M` → `Q4_K_M`, `ALL_F32` → `F32`. */
function quantName(fileType: number): string {
  const name = GgufFileType[fileType];
  return name ? name.replace(/^(MOSTLY|ALL)_/, "") : `type ${fileType}`;
}
