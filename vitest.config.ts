import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["{shared,client,gpu-runner,functions,cli,infra,bench}/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/.sst/**"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
