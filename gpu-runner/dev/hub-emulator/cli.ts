/**
 * `npm run -w gpu-runner hub-emulator -- --repo owner/name --file path/to/model.gguf [--file …]
 * [--as name-in-repo] [--port N] [--gated --token hf_…] [--throttle BYTES_PER_S]`
 * (`--throttle` caps each connection's rate, as a CDN does)
 *
 * Serves local files as a Hugging Face Hub repo until killed. Prints one JSON line on stdout:
 * `{ "url": …, "cdnUrl": …, "repo": …, "commit": …, "files": [...] }`; point `HF_ENDPOINT` at `url`.
 */
import { basename, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startHubEmulator } from "./start-hub-emulator";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
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
  if (!values.repo || !values.file?.length) {
    throw new Error(
      "usage: hub-emulator --repo owner/name --file path/to/file [--as name] [--port N]",
    );
  }
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
  process.exit(1);
});
