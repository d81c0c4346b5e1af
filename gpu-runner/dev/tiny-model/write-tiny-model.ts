import { parseArgs } from "node:util";
import {
  encode,
  type MetadataValue,
  type TensorSpec,
  type TensorType,
  toHalf,
  writeGguf,
} from "./gguf-writer";
import { PHI4_REASONING_CHAT_TEMPLATE } from "./phi4-reasoning-template";

/**
 * A tiny Phi-4-architecture (GGUF arch `phi3`) model that llama.cpp loads like the real one:
 * byte-level GPT-2 vocabulary plus Phi-4's special tokens, and Phi-4-reasoning's own chat
 * template. With the default deterministic weights, greedy decoding is known exactly: after
 * `<|im_start|>assistant<|im_sep|>` it writes `<think>a…z</think>A…Z<|im_end|>`, whatever the
 * user said; under a JSON grammar its answer is known too (see TINY_JSON). The `random` variant
 * has the same shape at a configurable size, for benchmarks.
 */
export interface TinyModelOptions {
  random?: RandomModelShape;
  /** Tensor type of the weight matrices (norms stay F32). Default F16. */
  type?: TensorType;
  /**
   * The answer never ends: after `A…Z` come list items `\n- A…Z` until `maxTokens` or an abort.
   * For tests that need a stream still in progress (a Stop button, a screenshot mid-answer).
   */
  endless?: boolean;
  /**
   * The reply opens with its answer (`A…Z`), no `<think>` segment, though the template still
   * names the tags: a model that may skip its reasoning.
   */
  noThought?: boolean;
}

export interface RandomModelShape {
  layers: number;
  /** n_embd; a multiple of 64. */
  embedding: number;
  /** feed_forward_length; default ≈ 5.25 × embedding (≈ 250M params at 12 × 1024). */
  feedForward?: number;
  /** Attention heads; default embedding / 64. */
  heads?: number;
  seed?: number;
}

/** What the deterministic model streams for any user message under greedy sampling. */
export const TINY_REPLY = {
  reasoning: "abcdefghijklmnopqrstuvwxyz",
  text: "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
} as const;

/**
 * What the deterministic model writes when a grammar forbids its plain answer: every token has
 * a ranked list of fallbacks, so constrained greedy decoding is exact too. A string value is
 * `"A…Z"`, a number `42`, a boolean `true`, an empty array `[]`; keys the grammar leaves open are
 * `"A…Z"`. So `{answer: number, ok: boolean, name: string}` comes out as
 * `{"answer":42,"ok":true,"name":"ABCDEFGHIJKLMNOPQRSTUVWXYZ"}`, free JSON as
 * `{"ABCDEFGHIJKLMNOPQRSTUVWXYZ":42}`.
 */
export const TINY_JSON = {
  string: TINY_REPLY.text,
  number: 42,
  boolean: true,
  object: { [TINY_REPLY.text]: 42 },
} as const;

/** Tokens generated for TINY_REPLY: `<think>`, 26 letters, `</think>`, 26 letters, `<|im_end|>`. */
export const TINY_REPLY_TOKENS = { reasoning: 26, completion: 55 } as const;

/** The model's trained context length (what llama.cpp reports as n_ctx_train). */
export const TINY_CONTEXT_LENGTH = 4096;

const SPECIAL = [
  ["<|endoftext|>", 3],
  ["<|im_start|>", 3],
  ["<|im_end|>", 3],
  ["<|im_sep|>", 3],
  // Phi-4-reasoning's think tags are added (user-defined) tokens, matched in plain text too.
  ["<think>", 4],
  ["</think>", 4],
  ["<|dummy_pad|>", 3],
] as const;

export const TINY_VOCAB = buildVocabulary();

function buildVocabulary() {
  const tokens = gpt2ByteTokens();
  const types: number[] = tokens.map(() => 1);
  for (const [text, type] of SPECIAL) {
    tokens.push(text);
    types.push(type);
  }
  const id = (text: string) => {
    const i = tokens.indexOf(text);
    if (i < 0) throw new Error(`no token ${text}`);
    return i;
  };
  return { tokens, types, id };
}

/** GPT-2's reversible byte → printable character mapping; token i is byte i. */
function gpt2ByteTokens(): string[] {
  const direct = (b: number) =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const tokens: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) tokens.push(String.fromCodePoint(direct(b) ? b : 256 + extra++));
  return tokens;
}

/** Bytes that follow `Z` in the endless answer: a new Markdown list item (`\n- `). */
export const ENDLESS_ITEM = "\n- ";

/**
 * When the successor is not allowed (a grammar), the best allowed of these wins, in this order:
 * close a string before anything else (strings end), then close objects and arrays, then start
 * a value. Unlisted tokens (whitespace, `,`) score 0 and so lose to any listed one allowed.
 */
const FALLBACK = ['"', "}", "]", ",", "{", "4", "t", "n", "-", "0"];

/** Successor of each token under greedy decoding: the reply chain, everything else ends. */
function successors({ endless, noThought }: TinyModelOptions): number[] {
  const { tokens, id } = TINY_VOCAB;
  const next = tokens.map(() => id("<|im_end|>"));
  const thought = noThought ? [] : ["<think>", ...TINY_REPLY.reasoning, "</think>"];
  const chain = ["<|im_sep|>", ...thought, ...TINY_REPLY.text, "<|im_end|>"].map(id);
  for (let i = 0; i + 1 < chain.length; i++) next[chain[i] ?? 0] = chain[i + 1] ?? 0;
  if (endless) {
    // Byte tokens are their byte value; each byte in the loop appears once, so the cycle is
    // Z → \n → - → space → A.
    const loop = [id("Z"), ...Buffer.from(ENDLESS_ITEM), id("A")];
    for (let i = 0; i + 1 < loop.length; i++) next[loop[i] ?? 0] = loop[i + 1] ?? 0;
  }
  // JSON under a grammar: `{"A…Z":42}`; the reasoning and answer chains never reach these.
  for (const [from, to] of [
    ["{", '"'],
    ['"', "A"],
    [":", "4"],
    ["4", "2"],
  ] as const) {
    next[id(from)] = id(to);
  }
  return next;
}

/**
 * Output weight of `candidate` after `current` (rows are candidates, columns the one-hot input).
 * Steps of 0.5 become logit gaps of ~9 after the norm (√320 × 0.5), so even sampling at the
 * card's temperature picks the same tokens as greedy decoding.
 */
function outputWeight(next: number[]): (candidate: number, current: number) => number {
  const rank = new Map(FALLBACK.map((text, i) => [TINY_VOCAB.id(text), 4.5 - i * 0.5]));
  return (candidate, current) => (next[current] === candidate ? 6 : (rank.get(candidate) ?? 0));
}

/** Writes the model to `path` (a few MB, ~ms) or, with `random`, a benchmark-sized model. */
export async function writeTinyModel(path: string, options: TinyModelOptions = {}): Promise<void> {
  const type = options.type ?? "F16";
  const vocab = TINY_VOCAB.tokens.length;
  const random = options.random;
  // One-hot embeddings need n_embd ≥ vocab; 320 = 5 heads of 64 keeps Q8_0 rows whole.
  const nEmbd = random?.embedding ?? 320;
  const nFf = random?.feedForward ?? (random ? Math.round((nEmbd * 5.25) / 32) * 32 : 64);
  const nHead = random?.heads ?? nEmbd / 64;
  const nLayer = random?.layers ?? 1;
  if (!Number.isInteger(nHead) || nEmbd % nHead !== 0 || nEmbd % 32 !== 0 || nFf % 32 !== 0) {
    throw new Error(`bad shape: embedding ${nEmbd}, heads ${nHead}, feedForward ${nFf}`);
  }
  const { id } = TINY_VOCAB;

  const metadata: Record<string, MetadataValue> = {
    "general.architecture": { string: "phi3" },
    // Must not contain "phi3"/"phi-3": llama.cpp would then expect Phi-3's `<s>`/`</s>` tokens.
    "general.name": { string: random ? "Tiny Phi-4 random" : "Tiny Phi-4 reasoning" },
    "general.file_type": { uint32: { F32: 0, F16: 1, Q8_0: 7 }[type] },
    "phi3.context_length": { uint32: TINY_CONTEXT_LENGTH },
    "phi3.embedding_length": { uint32: nEmbd },
    "phi3.feed_forward_length": { uint32: nFf },
    "phi3.block_count": { uint32: nLayer },
    "phi3.attention.head_count": { uint32: nHead },
    "phi3.attention.head_count_kv": { uint32: nHead },
    "phi3.attention.layer_norm_rms_epsilon": { float32: 1e-5 },
    "phi3.rope.dimension_count": { uint32: nEmbd / nHead },
    "phi3.rope.freq_base": { float32: 250_000 },
    "tokenizer.ggml.model": { string: "gpt2" },
    "tokenizer.ggml.pre": { string: "gpt-2" },
    "tokenizer.ggml.tokens": { strings: TINY_VOCAB.tokens },
    "tokenizer.ggml.token_type": { int32s: TINY_VOCAB.types },
    "tokenizer.ggml.merges": { strings: [] },
    "tokenizer.ggml.bos_token_id": { uint32: id("<|endoftext|>") },
    "tokenizer.ggml.eos_token_id": { uint32: id("<|im_end|>") },
    "tokenizer.ggml.padding_token_id": { uint32: id("<|dummy_pad|>") },
    "tokenizer.ggml.add_bos_token": { bool: false },
    "tokenizer.chat_template": { string: PHI4_REASONING_CHAT_TEMPLATE },
  };

  const rng = xorshift(random?.seed ?? 42);
  const ones = (name: string): TensorSpec => dense(name, [nEmbd], "F32", () => 1);
  const weight = (name: string, dims: number[]): TensorSpec =>
    random ? randomTensor(name, dims, type, rng) : dense(name, dims, type, () => 0);

  const next = successors(options);
  const tensors: TensorSpec[] = [
    random
      ? randomTensor("token_embd.weight", [nEmbd, vocab], type, rng)
      : dense("token_embd.weight", [nEmbd, vocab], type, (row, col) => (row === col ? 1 : 0)),
    ones("output_norm.weight"),
    random
      ? // Only printable ASCII (bar "<", which could open a stop trigger) can win: random text
        // never ends early and streams token by token, with no UTF-8 or trigger hold-back.
        randomTensor("output.weight", [nEmbd, vocab], type, rng, printable)
      : dense("output.weight", [nEmbd, vocab], type, outputWeight(next)),
  ];
  for (let l = 0; l < nLayer; l++) {
    tensors.push(
      ones(`blk.${l}.attn_norm.weight`),
      weight(`blk.${l}.attn_qkv.weight`, [nEmbd, 3 * nEmbd]),
      weight(`blk.${l}.attn_output.weight`, [nEmbd, nEmbd]),
      ones(`blk.${l}.ffn_norm.weight`),
      weight(`blk.${l}.ffn_up.weight`, [nEmbd, 2 * nFf]),
      weight(`blk.${l}.ffn_down.weight`, [nFf, nEmbd]),
    );
  }
  await writeGguf(path, metadata, tensors);
}

function printable(token: number): boolean {
  return token >= 0x20 && token <= 0x7e && token !== 0x3c;
}

/** A tensor given by a function of (row, column); rows are `dims[0]` long. */
function dense(
  name: string,
  dims: number[],
  type: TensorType,
  value: (row: number, col: number) => number,
): TensorSpec {
  const [cols = 1, rows = 1] = dims;
  return {
    name,
    dims,
    type,
    async write(sink) {
      const row = new Float32Array(cols);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) row[c] = value(r, c);
        await sink(encode(row, type).slice());
      }
    },
  };
}

/** Uniform random weights in ±0.05, generated straight in the target encoding. */
function randomTensor(
  name: string,
  dims: number[],
  type: TensorType,
  rng: () => number,
  keepRow: (row: number) => boolean = () => true,
): TensorSpec {
  const [cols = 1, rows = 1] = dims;
  const scale = 0.05;
  const halves = Array.from({ length: 256 }, (_, i) => toHalf(((i - 127.5) / 127.5) * scale));
  const rowsPerChunk = Math.max(1, Math.floor((1 << 20) / cols));
  return {
    name,
    dims,
    type,
    async write(sink) {
      for (let r0 = 0; r0 < rows; r0 += rowsPerChunk) {
        const n = Math.min(rowsPerChunk, rows - r0);
        const chunk = randomRows(n * cols, type, rng, { scale, halves });
        const rowBytes = chunk.length / n;
        for (let r = 0; r < n; r++) {
          if (!keepRow(r0 + r)) chunk.fill(0, r * rowBytes, (r + 1) * rowBytes);
        }
        await sink(chunk);
      }
    },
  };
}

function randomRows(
  count: number,
  type: TensorType,
  rng: () => number,
  table: { scale: number; halves: number[] },
): Uint8Array {
  if (type === "F32") {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = ((rng() / 0xffffffff) * 2 - 1) * table.scale;
    return new Uint8Array(out.buffer);
  }
  if (type === "F16") {
    const out = new Uint16Array(count);
    for (let i = 0; i < count; i++) out[i] = table.halves[rng() & 0xff] ?? 0;
    return new Uint8Array(out.buffer);
  }
  const blocks = count / 32;
  const out = Buffer.alloc(blocks * 34);
  const d = toHalf(table.scale / 127);
  for (let b = 0; b < blocks; b++) {
    const o = b * 34;
    out.writeUInt16LE(d, o);
    for (let i = 0; i < 32; i += 4) {
      const x = rng();
      out[o + 2 + i] = x & 0xff;
      out[o + 3 + i] = (x >>> 8) & 0xff;
      out[o + 4 + i] = (x >>> 16) & 0xff;
      out[o + 5 + i] = x >>> 24;
    }
  }
  return out;
}

function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      random: { type: "boolean", default: false },
      layers: { type: "string", default: "12" },
      embedding: { type: "string", default: "1024" },
      "feed-forward": { type: "string" },
      type: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const out = positionals[0];
  const type = values.type as TensorType | undefined;
  if (values.help || !out || (type && !["F32", "F16", "Q8_0"].includes(type))) {
    console.error(
      "usage: write-tiny-model.ts <out.gguf> [--type F16|F32|Q8_0] [--random [--layers 12] [--embedding 1024] [--feed-forward N]]",
    );
    process.exit(out ? 0 : 2);
  }
  const random = values.random
    ? {
        layers: Number(values.layers),
        embedding: Number(values.embedding),
        ...(values["feed-forward"] ? { feedForward: Number(values["feed-forward"]) } : {}),
      }
    : undefined;
  await writeTinyModel(out, { random, type });
  console.log(out);
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  main().catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
