import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, modelSource, parseEnv } from "./env";

const REPO_ROOT = resolve(import.meta.dirname, "../..");

describe("parseEnv", () => {
  it("applies the documented defaults", () => {
    const env = parseEnv({ RUNNER_INSECURE: "1" });
    expect(env).toMatchObject({
      MODEL_REPO: "bartowski/microsoft_Phi-4-reasoning-plus-GGUF",
      MODEL_FILE: "microsoft_Phi-4-reasoning-plus-Q4_K_M.gguf",
      MODEL_REVISION: "main",
      MODEL_CACHE_DIR: resolve(REPO_ROOT, ".models"),
      HF_ENDPOINT: "https://huggingface.co",
      HF_HUB_OFFLINE: false,
      PORT: 8080,
      GPU: "auto",
      PARALLEL: 4,
      CONTEXT_SIZE: 8192,
      QUEUE_MAX: 64,
    });
    expect(env.THREADS).toBeGreaterThan(0);
  });

  it("keeps one model folder whatever the working directory: the repository's .models", () => {
    // npm runs `-w gpu-runner pull` in gpu-runner/ and `npm start` at the root: a relative
    // default made them two folders (and a second 9 GB download).
    expect(parseEnv({ RUNNER_INSECURE: "1" }).MODEL_CACHE_DIR).toBe(resolve(REPO_ROOT, ".models"));
    expect(parseEnv({ RUNNER_INSECURE: "1", INIT_CWD: "/elsewhere" }).MODEL_CACHE_DIR).toBe(
      resolve(REPO_ROOT, ".models"),
    );
  });

  it("reads a relative MODEL_CACHE_DIR from where npm was run (INIT_CWD), else the working directory", () => {
    const relative = { RUNNER_INSECURE: "1", MODEL_CACHE_DIR: "volume/models" };
    expect(parseEnv({ ...relative, INIT_CWD: "/work/app" }).MODEL_CACHE_DIR).toBe(
      "/work/app/volume/models",
    );
    expect(parseEnv(relative).MODEL_CACHE_DIR).toBe(resolve(process.cwd(), "volume/models"));
    expect(parseEnv({ RUNNER_INSECURE: "1", MODEL_CACHE_DIR: "/models" }).MODEL_CACHE_DIR).toBe(
      "/models",
    );
  });

  it("requires RUNNER_SECRET unless RUNNER_INSECURE=1", () => {
    expect(() => parseEnv({})).toThrow(/RUNNER_SECRET/);
    expect(parseEnv({ RUNNER_SECRET: "s".repeat(16) }).RUNNER_SECRET).toBe("s".repeat(16));
  });

  it("names the variable that is wrong", () => {
    expect(() => parseEnv({ RUNNER_INSECURE: "1", PARALLEL: "many" })).toThrow(/PARALLEL/);
    expect(() => parseEnv({ RUNNER_INSECURE: "1", GPU: "tpu" })).toThrow(/GPU/);
    expect(() => parseEnv({ RUNNER_INSECURE: "1", HF_ENDPOINT: "not a url" })).toThrow(
      /HF_ENDPOINT/,
    );
    expect(() => parseEnv({ RUNNER_INSECURE: "1", MODEL_REPO: "no-slash" })).toThrow(/MODEL_REPO/);
  });

  it("refuses an HF_TOKEN that is not a Hugging Face token, without echoing it", () => {
    const token = "ghp_notahuggingfacetoken";
    expect(() => parseEnv({ RUNNER_INSECURE: "1", HF_TOKEN: token })).toThrow(
      /HF_TOKEN: not a Hugging Face token/,
    );
    expect(() => parseEnv({ RUNNER_INSECURE: "1", HF_TOKEN: token })).not.toThrow(token);
  });

  it("hands the model store only what it needs", () => {
    const env = parseEnv({
      RUNNER_INSECURE: "1",
      MODEL_REPO: "owner/name",
      MODEL_FILE: "m.gguf",
      MODEL_REVISION: "v1",
      MODEL_CACHE_DIR: "/models",
      HF_ENDPOINT: "http://127.0.0.1:9/",
      HF_TOKEN: "hf_token",
      HF_HUB_OFFLINE: "1",
      MODEL_DOWNLOAD_CONNECTIONS: "2",
    });
    expect(modelSource(env)).toEqual({
      repo: "owner/name",
      file: "m.gguf",
      revision: "v1",
      cacheDir: "/models",
      hubUrl: "http://127.0.0.1:9/",
      accessToken: "hf_token",
      offline: true,
      connections: 2,
    });
    expect(modelSource(parseEnv({ RUNNER_INSECURE: "1" }))).not.toHaveProperty("accessToken");
  });

  it("never echoes HF_TOKEN in its errors", () => {
    const token = "hf_secretsecretsecret";
    const error = (() => {
      try {
        parseEnv({ HF_TOKEN: token, PORT: "-1" });
      } catch (thrown) {
        return thrown;
      }
    })();
    // Outside the try: a parse that did not throw fails here instead of being caught.
    expect(error).toBeInstanceOf(ConfigError);
    expect(String(error)).toMatch(/PORT/);
    expect(String(error)).not.toContain(token);
  });
});
