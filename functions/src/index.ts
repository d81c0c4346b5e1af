import { createEdgeApp } from "./edge-app";
import { createWakeOnUnavailable } from "./wake/wake-on-unavailable";

export { KeyLimiter } from "./limits/key-limiter";

/** The Worker: auth, limits and a streaming pass-through to the GPU runner. */
// Deployed with the wake bindings, an unavailable runner service is scaled up from zero.
export default createEdgeApp({
  onRunnerUnavailable: createWakeOnUnavailable(),
}) satisfies ExportedHandler;
