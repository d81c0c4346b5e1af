/**
 * What differs between stages. `production` keeps its data and always has a runner warm;
 * every other stage is removable and scales to zero when idle.
 *
 * Deploy-time settings come from the deployer's environment (documented in docs/DEPLOY.md);
 * this is the only deploy-time module that reads `process.env`.
 */
export const isProduction = $app.stage === "production";

const env = process.env;

/** Runner count bounds; `min: 0` means the stage sleeps when idle and the edge wakes it. */
export const runners = {
  min: intFromEnv("PHI4_MIN_RUNNERS", isProduction ? 1 : 0),
  max: intFromEnv("PHI4_MAX_RUNNERS", isProduction ? 4 : 1),
};

/** GPU instance types, first preferred: L4 (g6) then A10G (g5); both have 24 GB of VRAM. */
export const instanceTypes = (env.PHI4_INSTANCE_TYPES ?? "g6.xlarge,g5.xlarge")
  .split(",")
  .map((t) => t.trim())
  .filter(Boolean);

const domain = (() => {
  const base = env.PHI4_DOMAIN;
  if (!base) {
    throw new Error(
      "PHI4_DOMAIN is not set: the name of a Cloudflare zone (or a name inside one) under which the API and the runners' TLS endpoint live, e.g. PHI4_DOMAIN=phi4.example.com (docs/DEPLOY.md)",
    );
  }
  return base;
})();
const suffix = isProduction ? "" : `-${$app.stage}`;

/** Where callers reach the edge Worker (a Workers custom domain; workers.dev stays on too). */
export const apiDomain = `api${suffix}.${domain}`;

/**
 * The DNS name the runners' load balancer answers on, with a certificate (the edge only talks
 * TLS to the runners). Both names sit in a Cloudflare zone of the deploying account.
 */
export const runnerDomain = `runner${suffix}.${domain}`;

/** Sequences one runner serves at once (the runner's PARALLEL); scaling aims at this load. */
export const parallel = intFromEnv("PHI4_PARALLEL", 4);

/**
 * The longest a stream may last: a 32k-token reasoning answer at ~20 tokens/s is ~27 min.
 * Draining (deregistration delay) waits this long before a runner is stopped.
 */
export const longestStreamSeconds = 30 * 60;

/** How long a cold runner may take to download ~9 GB and load it before it counts as failed. */
export const coldStartSeconds = 30 * 60;

/**
 * GPU instances kept stopped in an Auto Scaling warm pool, booted once with the runner image
 * pulled: a wake from zero then starts a stopped instance instead of launching a new one.
 * Costs their disks while stopped (docs/DEPLOY.md); 0 (default) keeps no warm pool.
 */
export const warmInstances = intFromEnv("PHI4_WARM_INSTANCES", 0);

/** Minutes without a single request before a scale-to-zero stage goes back to sleep. */
export const idleMinutes = intFromEnv("PHI4_IDLE_MINUTES", 30);

/** `PHI4_MODEL_REPO` etc. pick another model or context for the runners (gpu-runner/src/env.ts). */
export const modelOverrides = [
  "MODEL_REPO",
  "MODEL_FILE",
  "MODEL_REVISION",
  "CONTEXT_SIZE",
].flatMap((name) => {
  const value = env[`PHI4_${name}`];
  return value ? [{ name, value }] : [];
});

function intFromEnv(name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  }
  return value;
}
