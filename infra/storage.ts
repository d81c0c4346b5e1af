/**
 * The network and the shared model volume. Runners live in the VPC's public subnets with public
 * IPs and no NAT: an idle stage then pays for no NAT gateway, and a cold start downloads ~9 GB
 * from the Hub at full instance bandwidth. Their security group admits only the load balancer.
 */
import { isProduction } from "./stage";

export const vpc = new sst.aws.Vpc("Vpc", { az: 2 });

/** The runner's POSIX user in the image (gpu-runner/Dockerfile); the volume is owned by it. */
export const runnerUid = 10001;

/** Where the volume is mounted in the container: the runner's MODEL_CACHE_DIR. */
export const modelCacheDir = "/models";

/**
 * Elastic throughput: a cold start reads ~9 GB at once (and the first one writes it), which
 * bursting throughput on a 9 GB file system could not sustain; elastic bills per GB moved and
 * nothing while idle. Encrypted at rest (SST's default) and in transit (the task mounts with TLS).
 */
export const models = new sst.aws.Efs("Models", {
  vpc,
  throughput: "elastic",
  performance: "general-purpose",
  transform: {
    // Production keeps the downloaded model when the stack is removed; dev stages delete it.
    fileSystem: (_args, opts) => {
      opts.retainOnDelete = isProduction;
      return undefined;
    },
    accessPoint: (args) => {
      args.posixUser = { uid: runnerUid, gid: runnerUid };
      args.rootDirectory = {
        path: "/hf-cache",
        creationInfo: { ownerUid: runnerUid, ownerGid: runnerUid, permissions: "0755" },
      };
      return undefined;
    },
  },
});
