import { createEdgeApp } from "./edge-app";

export { KeyLimiter } from "./limits/key-limiter";

/** The Worker: auth, limits and a streaming pass-through to the GPU runner. */
export default createEdgeApp() satisfies ExportedHandler;
