import type { Limits } from "./auth/key-record";
import type { EdgeConfig } from "./env";
import type { Logger } from "./http/logger";

/** Who is calling, once authenticated. */
export interface Caller {
  /** `k_<hash prefix>` for API keys, `jwt:<sub>` for tokens: logged and sent to the runner. */
  id: string;
  kind: "key" | "jwt";
  limits: Limits;
}

/**
 * What the edge's middleware set on the context, in the order they run: request id and log
 * (requestContext), config, caller (authenticate), the stream lease and spare (rateLimit). Its own module
 * so that the middleware and the app that chains them import it, not each other.
 */
export interface EdgeVariables {
  requestId: string;
  log: Logger;
  config: EdgeConfig;
  caller: Caller;
  /** Ends the caller's stream lease (idempotent). */
  release: () => Promise<void>;
  /** Set when the response body carries the lease away. */
  streaming: boolean;
  /** Set when a spare admission let the request through without a call to the limiter. */
  spare: boolean;
}

/** The hono environment of every edge handler. */
export interface EdgeEnv {
  Variables: EdgeVariables;
}
