export * from "./engine";
export * from "./errors";
export * from "./events";
export * from "./router";
export * from "./schemas";
export * from "./wire-errors";
