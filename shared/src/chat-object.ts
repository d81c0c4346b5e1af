import { z } from "zod";
import type { ChatEvent, DoneEvent, FinishReason } from "./events.js";
import type { ChatInput } from "./schemas.js";

/** A `chat` whose answer is a value of `T`: iterate it for the events, await it for the value. */
export interface ObjectChat<T> extends AsyncIterable<ChatEvent>, PromiseLike<T> {
  /** The answer parsed by the schema, once the stream has ended. */
  readonly value: Promise<T>;
}

export interface ChatObjectOptions {
  signal?: AbortSignal;
  /** Told to the model with the schema. */
  name?: string;
  description?: string;
}

/** The answer is not a value of the schema (cut short by `maxTokens`, or the schema refines more than JSON Schema says). */
export class StructuredOutputError extends Error {
  override name = "StructuredOutputError";
  constructor(
    message: string,
    /** The answer as generated. */
    readonly text: string,
    readonly finishReason: FinishReason | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * Runs `chat` with `schema` (zod 4, sent as JSON Schema) as the answer's format and parses the
 * answer with the same schema, so the value has the schema's inferred type. The stream's events
 * are the same as `chat`'s; nothing is parsed until `done`.
 */
export function chatObject<S extends z.ZodType>(
  chat: (input: ChatInput, options?: { signal?: AbortSignal }) => AsyncIterable<ChatEvent>,
  input: Omit<ChatInput, "responseFormat">,
  schema: S,
  options: ChatObjectOptions = {},
): ObjectChat<z.output<S>> {
  // What the model must write is what the schema accepts as input (before transforms).
  const { $schema: _, ...jsonSchema } = z.toJSONSchema(schema, { io: "input" });
  const events = chat(
    {
      ...input,
      responseFormat: {
        type: "json_schema",
        schema: jsonSchema,
        ...(options.name ? { name: options.name } : {}),
        ...(options.description ? { description: options.description } : {}),
      },
    },
    { signal: options.signal },
  );
  let settle!: { resolve: (value: z.output<S>) => void; reject: (error: unknown) => void };
  const value = new Promise<z.output<S>>((resolve, reject) => {
    settle = { resolve, reject };
  });
  // A caller who only iterates still sees the error there; no unhandled rejection.
  value.catch(() => {});
  let started = false;

  async function* iterate(): AsyncGenerator<ChatEvent> {
    if (started) throw new Error("an ObjectChat can be iterated once");
    started = true;
    let text = "";
    let done: DoneEvent | undefined;
    try {
      for await (const event of events) {
        if (event.type === "text") text += event.text;
        if (event.type === "done") done = event;
        yield event;
      }
      settle.resolve(parse(schema, text, done?.finishReason));
    } catch (error) {
      settle.reject(error);
      throw error;
    } finally {
      settle.reject(new Error("the stream was left before it ended"));
    }
  }

  const generator = iterate();
  return {
    value,
    [Symbol.asyncIterator]: () => generator,
    // biome-ignore lint/suspicious/noThenProperty: awaiting the call is the one-line way to use it.
    then(onFulfilled, onRejected) {
      if (!started) void drain(generator);
      return value.then(onFulfilled, onRejected);
    },
  };
}

async function drain(events: AsyncIterable<ChatEvent>): Promise<void> {
  try {
    for await (const _ of events);
  } catch {
    // Reported through `value`.
  }
}

function parse<S extends z.ZodType>(
  schema: S,
  text: string,
  finishReason: FinishReason | undefined,
): z.output<S> {
  const cut = finishReason === "length" || finishReason === "abort";
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    const why = cut ? `it was cut short (finish reason ${finishReason})` : "it is not JSON";
    throw new StructuredOutputError(
      `the answer is not a value of the schema: ${why}`,
      text,
      finishReason,
      {
        cause: error,
      },
    );
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    throw new StructuredOutputError(
      `the answer does not match the schema: ${z.prettifyError(result.error)}`,
      text,
      finishReason,
      { cause: result.error },
    );
  }
  return result.data;
}
