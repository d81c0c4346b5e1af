export * from "./engine.js";
export * from "./errors.js";
export * from "./events.js";
export * from "./grammar-schema.js";
export * from "./router.js";
export * from "./schemas.js";
export * from "./wire-errors.js";
