/**
 * The runner's container image, built from gpu-runner/Dockerfile and pushed to this stage's ECR
 * repository on deploy. Built with Pulumi's docker-build provider, as `sst.aws.Service` does;
 * it is loaded from SST's platform folder because that is where `sst install` puts it.
 */
import { createRequire } from "node:module";
import path from "node:path";

type DockerBuild = typeof import("@pulumi/docker-build");

export const repository = new aws.ecr.Repository("RunnerRepository", {
  forceDelete: true,
  imageScanningConfiguration: { scanOnPush: true },
});

new aws.ecr.LifecyclePolicy("RunnerRepositoryLifecycle", {
  repository: repository.name,
  policy: JSON.stringify({
    rules: [
      {
        rulePriority: 1,
        description: "keep the last 5 images",
        selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: 5 },
        action: { type: "expire" },
      },
    ],
  }),
});

const auth = aws.ecr.getAuthorizationTokenOutput({ registryId: repository.registryId });

const { Image } = createRequire(path.join($cli.paths.platform, "package.json"))(
  "@pulumi/docker-build",
) as DockerBuild;

export const image = new Image("RunnerImage", {
  context: { location: $cli.paths.root },
  dockerfile: { location: path.join($cli.paths.root, "gpu-runner", "Dockerfile") },
  platforms: ["linux/amd64"],
  push: true,
  tags: [$interpolate`${repository.repositoryUrl}:latest`],
  registries: [
    {
      address: auth.proxyEndpoint,
      username: auth.userName,
      password: $util.secret(auth.password),
    },
  ],
});

/** Pinned by digest so a task definition always names exactly the image that was built. */
export const imageUri = $interpolate`${repository.repositoryUrl}@${image.digest}`;
