import { type ExposedError, UnavailableError } from "@phi4-edge/shared";

/**
 * The model could not be downloaded or loaded; the runner cannot serve. Its message reaches
 * callers (`expose`), so absolute paths (the volume's layout) are cut to their last segment.
 */
export class ModelLoadError extends Error implements ExposedError {
  override name = "ModelLoadError";
  readonly expose = true;
  constructor(message: string, options?: ErrorOptions) {
    super(message.replace(/(?<![\w.:/])\/(?:[^\s/'"`:,;]+\/)+(?=[^\s/'"`:,;]+)/g, ""), options);
  }
}

/**
 * The runner is shutting down: callers should go to another runner. SERVICE_UNAVAILABLE with a
 * retry hint; no model phase, since the model is neither waking nor loading.
 */
export class DrainingError extends UnavailableError {
  override name = "DrainingError";
  constructor() {
    // Another runner (or this one's replacement) can take the call at once.
    super("the runner is shutting down", 1_000);
  }
}
