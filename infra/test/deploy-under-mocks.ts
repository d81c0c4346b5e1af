/**
 * Runs the real sst.config.ts offline: Pulumi's mock monitor records every resource the config
 * registers, the `$…` globals SST's CLI normally injects are set by hand, and a localhost server
 * answers the two calls SST makes to its CLI (Provider.Aws.Bootstrap, Runtime.Build).
 * Needs `.sst/platform` (npm run sst:types); one stage per process (module state is global).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { buildPlayground } from "../../functions/scripts/build-playground";
import { ensurePlatform } from "../ensure-platform";

// biome-ignore lint/suspicious/noExplicitAny: Pulumi's mock inputs and SDK modules are untyped JSON here
type Untyped = any;

export const root = path.resolve(import.meta.dirname, "../..");
const platform = path.join(root, ".sst", "platform");

export interface MockedResource {
  type: string;
  name: string;
  inputs: Record<string, Untyped>;
  /** The `retainOnDelete` option it was registered with (kept by `sst remove`). */
  retainOnDelete: boolean;
  /** Names of the resources in its `dependsOn` option. */
  dependsOn: string[];
  /** Its `customTimeouts` option (e.g. `{ delete: "45m" }`). */
  customTimeouts: { create?: string; update?: string; delete?: string };
}

export interface MockedDeploy {
  resources: MockedResource[];
  /** Provider function calls (data sources), e.g. `aws:ssm/getParameter:getParameter`. */
  calls: { token: string; inputs: Record<string, Untyped> }[];
  outputs: Record<string, unknown>;
  /** Every resource of one Pulumi type, e.g. `aws:ecs/service:Service`. */
  ofType(type: string): MockedResource[];
  /** The single resource of a type (throws if there are none or several). */
  one(type: string): MockedResource;
  close(): Promise<void>;
}

/** The deploy-time environment the tests use; the secret values are easy to search for. */
export const testEnv = {
  PHI4_DOMAIN: "phi4.example.com",
  CLOUDFLARE_DEFAULT_ACCOUNT_ID: "cf-account",
  SST_SECRET_HfToken: "hf_TESTSECRETHFTOKEN",
  SST_SECRET_RunnerSecret: "TESTSECRET-runner-0123456789",
};

/** Deploys `sst.config.ts` for `stage` under Pulumi mocks with the given deploy-time env. */
export async function deployUnderMocks(
  stage: string,
  env: Record<string, string>,
): Promise<MockedDeploy> {
  await ensurePlatform();
  buildPlayground(); // the Worker's static assets, as `npm run deploy` builds them
  Object.assign(process.env, env);
  const server = await startSstRpc();
  const local = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env.SST_SERVER = local;
  // The Worker reads its Durable Object migration tag from Cloudflare's API: answered locally.
  process.env.CLOUDFLARE_API_BASE_URL = `${local}/cloudflare`;

  const pulumi = await importPlatform("@pulumi/pulumi");
  const resources: MockedResource[] = [];
  const calls: MockedDeploy["calls"] = [];
  const options = new Map<
    string,
    Pick<MockedResource, "retainOnDelete" | "dependsOn" | "customTimeouts">
  >();
  await pulumi.runtime.setMocks(
    {
      newResource(args: { type: string; name: string; inputs: Untyped; id?: string }) {
        const recorded = options.get(`${args.type}::${args.name}`);
        resources.push({
          type: args.type,
          name: args.name,
          inputs: args.inputs,
          retainOnDelete: recorded?.retainOnDelete ?? false,
          dependsOn: recorded?.dependsOn ?? [],
          customTimeouts: recorded?.customTimeouts ?? {},
        });
        return { id: `${args.name}-id`, state: { ...args.inputs, ...fakeState(args) } };
      },
      call(args: { token: string; inputs: Untyped }) {
        calls.push({ token: args.token, inputs: args.inputs });
        return fakeCall(args.token, args.inputs);
      },
    },
    "phi4-edge",
    stage,
    false,
  );

  let outputs: Record<string, unknown>;
  let failure: { error: unknown } | undefined;
  try {
    await setSstGlobals(pulumi, stage);
    const config = (await import(pathToFileURL(path.join(root, "sst.config.ts")).href)).default;
    // As `sst deploy` does: the program runs inside the root stack, so that a stack
    // transformation can see resource options, which never reach the mock monitor.
    const stackOutputs = await pulumi.runtime.runInPulumiStack(async () => {
      pulumi.runtime.registerStackTransformation(
        (args: { type: string; name: string; opts: Untyped }) => {
          const dependsOn = [args.opts.dependsOn ?? []].flat() as { __name?: string }[];
          options.set(`${args.type}::${args.name}`, {
            retainOnDelete: args.opts.retainOnDelete === true,
            dependsOn: dependsOn.map((r) => r.__name ?? "?"),
            customTimeouts: args.opts.customTimeouts ?? {},
          });
          return undefined;
        },
      );
      try {
        return await config.run();
      } catch (error) {
        // Rethrown below: failing the stack itself would also surface as unhandled.
        failure = { error };
        return {};
      }
    });
    if (failure) throw failure.error;
    outputs = await resolveAll(pulumi, stackOutputs);
  } catch (error) {
    server.close();
    throw error;
  }
  // Resources created inside `apply` callbacks register a little later than the outputs resolve.
  await settle(resources);

  const ofType = (type: string) => resources.filter((r) => r.type === type);
  return {
    resources,
    calls,
    outputs,
    ofType,
    one(type) {
      const found = ofType(type);
      if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
      return found[0]!;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function importPlatform(name: string) {
  const { createRequire } = await import("node:module");
  return createRequire(path.join(platform, "package.json"))(name);
}

async function setSstGlobals(pulumi: Untyped, stage: string) {
  const g = globalThis as Untyped;
  g.$config = (config: unknown) => config;
  g.$app = {
    name: "phi4-edge",
    stage,
    removal: stage === "production" ? "retain" : "remove",
    protect: stage === "production",
    providers: { aws: { version: "7.20.0" }, cloudflare: { version: "6.15.0" } },
  };
  g.$dev = false;
  g.$cli = {
    command: "deploy",
    paths: { root, work: path.join(root, ".sst"), platform, home: tmpdir() },
    state: { version: {} },
  };
  g.$util = pulumi;
  g.$output = pulumi.output;
  g.$apply = pulumi.apply;
  g.$resolve = pulumi.all;
  g.$interpolate = pulumi.interpolate;
  g.$concat = pulumi.concat;
  g.$jsonParse = pulumi.jsonParse;
  g.$jsonStringify = pulumi.jsonStringify;
  g.$secrets = {};
  g.aws = await importPlatform("@pulumi/aws");
  g.cloudflare = await importPlatform("@pulumi/cloudflare");
  const components = await import(
    pathToFileURL(path.join(platform, "src/components/index.ts")).href
  );
  const component = await import(
    pathToFileURL(path.join(platform, "src/components/component.ts")).href
  );
  g.sst = components;
  g.$linkable = components.linkable;
  g.$transform = component.$transform;
  g.$asset = component.$asset;
}

/** Outputs a real engine would compute; only what the config and SST's components read. */
function fakeState(args: { type: string; name: string; inputs: Untyped }): Record<string, unknown> {
  const arn = `arn:aws:mock:us-east-1:123456789012:${args.type.split(":")[1]}/${args.name}`;
  const state: Record<string, unknown> = { arn, name: args.inputs.name ?? `${args.name}-name` };
  if (args.type === "aws:ecr/repository:Repository") {
    state.repositoryUrl = "123456789012.dkr.ecr.us-east-1.amazonaws.com/runner";
    state.registryId = "123456789012";
  }
  if (args.type === "docker-build:index:Image") state.digest = "sha256:abc";
  if (args.type === "aws:lb/loadBalancer:LoadBalancer") {
    state.dnsName = "runner-lb.us-east-1.elb.amazonaws.com";
    state.arnSuffix = "app/runner-lb/123";
    state.zoneId = "Z35SXDOTRQ7X7K";
  }
  if (args.type === "aws:acm/certificate:Certificate") {
    state.domainValidationOptions = [
      {
        domainName: args.inputs.domainName,
        resourceRecordName: `_x.${args.inputs.domainName}`,
        resourceRecordType: "CNAME",
        resourceRecordValue: "_y.acm-validations.aws",
      },
    ];
  }
  if (args.type === "aws:iam/accessKey:AccessKey") state.secret = "mock-secret-access-key";
  if (args.type === "pulumi-nodejs:dynamic:Resource") {
    Object.assign(state, { zoneId: "zone-id", zoneName: "example.com" });
  }
  if (args.type === "cloudflare:index/workersScript:WorkersScript") {
    state.scriptName = args.inputs.scriptName;
  }
  return state;
}

function fakeCall(token: string, inputs: Untyped): Record<string, unknown> {
  switch (token) {
    case "aws:index/getRegion:getRegion":
      return { region: "us-east-1", name: "us-east-1", id: "us-east-1" };
    case "aws:index/getCallerIdentity:getCallerIdentity":
      return { accountId: "123456789012", arn: "arn:aws:iam::123456789012:user/mock", userId: "x" };
    case "aws:index/getPartition:getPartition":
      return { partition: "aws", dnsSuffix: "amazonaws.com" };
    case "aws:index/getAvailabilityZones:getAvailabilityZones":
      return { names: ["us-east-1a", "us-east-1b", "us-east-1c"], zoneIds: ["a", "b", "c"] };
    case "aws:ssm/getParameter:getParameter":
      return { name: inputs.name, value: "ami-0123456789abcdef0", type: "String" };
    case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
      return {
        proxyEndpoint: "https://123456789012.dkr.ecr.us-east-1.amazonaws.com",
        userName: "AWS",
        password: "pw",
      };
    case "aws:iam/getPolicyDocument:getPolicyDocument":
      return { json: JSON.stringify({ Statement: inputs.statements ?? [] }) };
    case "cloudflare:index/getZone:getZone":
      return { zoneId: inputs.zoneId ?? "zone-id", name: "example.com" };
    default:
      return inputs;
  }
}

/** SST's CLI side: the bootstrap bucket/registry and the Worker bundle (a real temp file). */
function startSstRpc(): Promise<Server> {
  const out = mkdtempSync(path.join(tmpdir(), "phi4-sst-build-"));
  writeFileSync(
    path.join(out, "index.mjs"),
    "export default { fetch() { return new Response('ok') } };",
  );
  const server = createServer((req, res) => {
    if (req.url?.startsWith("/cloudflare/")) {
      // No script deployed yet: the first deploy applies every migration.
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ success: true, result: [], errors: [] }));
      return;
    }
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const { method } = JSON.parse(body) as { method: string };
      const result =
        method === "Provider.Aws.Bootstrap"
          ? {
              asset: "sst-asset-mock",
              assetEcrRegistryId: "123456789012",
              assetEcrUrl: "123456789012.dkr.ecr.us-east-1.amazonaws.com/sst-asset",
              state: "sst-state-mock",
            }
          : method === "Runtime.Build"
            ? { handler: "index.mjs", out, errors: [] }
            : undefined;
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify(result ? { result, error: null } : { error: `rpc: can't find ${method}` }),
      );
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

async function resolveAll(pulumi: Untyped, value: unknown): Promise<Record<string, unknown>> {
  return new Promise((resolve) => pulumi.output(value).apply(resolve));
}

/** Waits until no new resource has registered for a few event-loop turns. */
async function settle(resources: MockedResource[]) {
  let seen = -1;
  while (seen !== resources.length) {
    seen = resources.length;
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  }
}
