import { parseArgs } from "node:util";
import { generateApiKey, KEY_PREFIX, keyId, storageKey } from "../src/auth/api-key";
import { KeyRecord } from "../src/auth/key-record";
import { KvCommandError, kvStore } from "./kv-store";

const USAGE = `usage: npm run keys -- <command> [options]

commands:
  create --name NAME [--per-minute N] [--streams N]   make a key; printed once, on the last line
  list                                                name, id, created, limits, revoked
  revoke (--name NAME | --id ID)                      refuse the key from now on

options:
  --remote            the deployed KEYS namespace (needs a Cloudflare login, or CLOUDFLARE_API_TOKEN
                      and CLOUDFLARE_ACCOUNT_ID)
  --namespace-id ID   with --remote, required: the deployed namespace's id (sst deploy's keysNamespace
                      output, in .sst/outputs.json)
  --persist-to DIR    the local state folder \`wrangler dev\` uses (default functions/.wrangler/state)`;

/** `npm run keys -- create|list|revoke …`: API keys in the KEYS namespace, local or remote. */
async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: "string" },
      id: { type: "string" },
      "per-minute": { type: "string" },
      streams: { type: "string" },
      remote: { type: "boolean", default: false },
      local: { type: "boolean", default: false },
      "persist-to": { type: "string" },
      "namespace-id": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    console.log(USAGE);
    return;
  }
  // wrangler.jsonc's KEYS id is a placeholder for local state: remotely it names no namespace.
  if (values.remote && !values["namespace-id"]) {
    throw new UsageError(
      "--remote needs --namespace-id ID, the deployed KEYS namespace: the keysNamespace output of sst deploy (.sst/outputs.json)",
    );
  }
  if (values["namespace-id"] && !values.remote) {
    throw new UsageError("--namespace-id is for --remote; local keys live under --persist-to");
  }
  const store = kvStore({
    where: values.remote ? "remote" : "local",
    persistTo: values["persist-to"],
    namespaceId: values["namespace-id"],
  });

  if (command === "create") {
    const name = values.name?.trim();
    if (!name) throw new UsageError("create needs --name NAME");
    const limits = {
      ...optionalLimit("per-minute", values["per-minute"], "perMinute"),
      ...optionalLimit("streams", values.streams, "streams"),
    };
    const apiKey = generateApiKey();
    const key = await storageKey(apiKey);
    const record: KeyRecord = { id: keyId(key), name, created: new Date().toISOString() };
    if (Object.keys(limits).length) record.limits = limits;
    await store.put(key, JSON.stringify(record), record);
    console.log(`created ${record.id} "${name}"${values.remote ? " (remote)" : " (local)"}`);
    console.log("the key below is shown once; store it now:");
    console.log(apiKey);
    return;
  }

  const records = await listRecords(store);
  if (command === "list") {
    if (records.length === 0) console.log("no keys");
    for (const { record } of records) {
      const limits = record.limits ? ` limits=${JSON.stringify(record.limits)}` : "";
      const revoked = record.revoked ? ` REVOKED ${record.revoked}` : "";
      console.log(`${record.id}  ${record.name}  created ${record.created}${limits}${revoked}`);
    }
    return;
  }

  if (command === "revoke") {
    if (!values.name && !values.id) throw new UsageError("revoke needs --name NAME or --id ID");
    const matches = records.filter(
      ({ record }) => record.id === values.id || (values.name && record.name === values.name),
    );
    if (matches.length === 0) throw new UsageError("no such key");
    for (const { key, record } of matches) {
      const revoked = { ...record, revoked: record.revoked ?? new Date().toISOString() };
      await store.put(key, JSON.stringify(revoked), revoked);
      console.log(`revoked ${record.id} "${record.name}"`);
    }
    return;
  }
  throw new UsageError(`unknown command "${command}"`);
}

async function listRecords(store: ReturnType<typeof kvStore>) {
  const entries = await store.list(KEY_PREFIX);
  return entries.flatMap((entry) => {
    const record = KeyRecord.safeParse(entry.metadata);
    return record.success ? [{ key: entry.name, record: record.data }] : [];
  });
}

function optionalLimit(flag: string, value: string | undefined, field: "perMinute" | "streams") {
  if (value === undefined) return {};
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${flag} must be a positive integer`);
  return { [field]: n };
}

class UsageError extends Error {
  override name = "UsageError";
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError) console.error(`${error.message}\n\n${USAGE}`);
  else if (error instanceof KvCommandError) console.error(error.message);
  else console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
