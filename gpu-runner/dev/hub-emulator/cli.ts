/**
 * `npm run -w gpu-runner hub-emulator -- --repo owner/name --file path/to/model.gguf …` (USAGE).
 * Serves local files as a Hugging Face Hub repo until killed.
 */
import { basename, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startHubEmulator } from "./start-hub-emulator";

const USAGE = `usage: npm run -w gpu-runner hub-emulator -- --repo owner/name --file path/to/model.gguf [options]

Serves local files as a Hugging Face Hub repo (resolve, paths-info, Range, a CDN on another host)
until stopped. Prints one JSON line: { "url", "cdnUrl", "repo", "commit", "files" }; point the
runner's HF_ENDPOINT at url.

  --repo owner/name      the repo id to serve (required)
  --file PATH            a local file to serve; repeat for several (required)
  --as NAME              the file's name in the repo, one per --file (default: its base name)
  --port N               listen port (default: a free one)
  --revision BRANCH      the branch name (default: main)
  --gated                answer 401 without a token and 403 with a wrong one
  --token hf_…           the one token a gated repo accepts
  --throttle BYTES_PER_S cap each connection's rate for file bodies, as a CDN does
  -h, --help             this text`;

class UsageError extends Error {}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      help: { type: "boolean", short: "h" },
      repo: { type: "string" },
      file: { type: "string", multiple: true },
      as: { type: "string", multiple: true },
      port: { type: "string" },
      revision: { type: "string" },
      gated: { type: "boolean" },
      token: { type: "string" },
      throttle: { type: "string" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.repo) throw new UsageError("--repo owner/name is required");
  if (!values.file?.length) throw new UsageError("--file PATH is required");
  const files: Record<string, string> = {};
  values.file.forEach((file, i) => {
    files[values.as?.[i] ?? basename(file)] = resolve(file);
  });
  const hub = await startHubEmulator({
    repos: [
      {
        repo: values.repo,
        files,
        ...(values.revision ? { revision: values.revision } : {}),
        ...(values.gated ? { gated: true } : {}),
      },
    ],
    ...(values.port ? { port: Number(values.port) } : {}),
    ...(values.token ? { token: values.token } : {}),
    ...(values.throttle ? { faults: { throttle: Number(values.throttle) } } : {}),
  });
  console.log(
    JSON.stringify({
      url: hub.url,
      cdnUrl: hub.cdnUrl,
      repo: values.repo,
      commit: hub.commitOf(values.repo),
      files: Object.keys(files),
    }),
  );
  const stop = () => {
    setTimeout(() => process.exit(0), 1_000).unref(); // never linger after a signal
    void hub.close().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((error: unknown) => {
  console.error(`hub-emulator: ${error instanceof Error ? error.message : String(error)}`);
  const code = (error as { code?: unknown }).code;
  const badOption = typeof code === "string" && code.startsWith("ERR_PARSE_ARGS");
  if (error instanceof UsageError || badOption) console.error(`\n${USAGE}`);
  process.exit(1);
});
