import { expect, test } from "vitest";
import { deployUnderMocks, testEnv } from "./deploy-under-mocks";

test("a deploy without PHI4_DOMAIN stops with a message naming it", async () => {
  const attempt = deployUnderMocks("dev", { ...testEnv, PHI4_DOMAIN: "" });
  await expect(attempt).rejects.toThrow(/PHI4_DOMAIN is not set.*docs\/DEPLOY\.md/);
}, 300_000);
