import type { WakeConfig } from "./wake-runner";

/**
 * The wake-up bindings SST sets on the deployed Worker (infra/edge.ts): ECS_CLUSTER,
 * ECS_SERVICE, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and optionally ECS_ENDPOINT). Undefined when they are
 * absent (local `wrangler dev`): there is nothing to wake, the runner is started by hand.
 */
export function wakeConfigFromBindings(env: object): WakeConfig | undefined {
  const vars = env as Record<string, unknown>;
  const read = (name: string) => {
    const value = vars[name];
    return typeof value === "string" && value.trim() ? value.trim() : undefined;
  };
  const region = read("AWS_REGION");
  const cluster = read("ECS_CLUSTER");
  const service = read("ECS_SERVICE");
  const accessKeyId = read("AWS_ACCESS_KEY_ID");
  const secretAccessKey = read("AWS_SECRET_ACCESS_KEY");
  if (!region || !cluster || !service || !accessKeyId || !secretAccessKey) return undefined;
  // ECS_ENDPOINT: a VPC or FIPS endpoint; tests point it at a local stand-in.
  const endpoint = read("ECS_ENDPOINT");
  return {
    region,
    cluster,
    service,
    accessKeyId,
    secretAccessKey,
    ...(endpoint ? { endpoint } : {}),
  };
}
