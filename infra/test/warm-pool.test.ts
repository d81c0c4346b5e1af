/**
 * A stage with PHI4_WARM_INSTANCES=1 under Pulumi mocks: one stopped GPU instance waits in an
 * Auto Scaling warm pool with the runner image already pulled.
 */
import { expect, test } from "vitest";
import { deployStage } from "./deploy-rules";
import { type MockedDeploy, testEnv } from "./deploy-under-mocks";
import { byName } from "./expect-deploy";

let deploy: MockedDeploy;
deployStage("warm", { ...testEnv, PHI4_WARM_INSTANCES: "1" }, (d) => {
  deploy = d;
});

test("one instance waits stopped in the warm pool, returned there on scale-in", () => {
  const group = deploy.one("aws:autoscaling/group:Group").inputs;
  expect(group.name).toBe("phi4-edge-warm-gpu");
  expect(group.warmPool).toEqual({
    poolState: "Stopped",
    minSize: 1,
    maxGroupPreparedCapacity: 1,
    instanceReusePolicy: { reuseOnScaleIn: true },
  });
  expect(group.forceDeleteWarmPool).toBe(true);
});

test("a warming instance pulls the runner image before the hook lets it stop", () => {
  const group = deploy.one("aws:autoscaling/group:Group").inputs;
  expect(group.initialLifecycleHooks).toEqual([
    expect.objectContaining({
      name: "image-pulled",
      lifecycleTransition: "autoscaling:EC2_INSTANCE_LAUNCHING",
      defaultResult: "CONTINUE",
    }),
  ]);
  const template = deploy.one("aws:ec2/launchTemplate:LaunchTemplate").inputs;
  const userData = Buffer.from(template.userData, "base64").toString();
  expect(userData).toContain("ECS_WARM_POOLS_CHECK=true");
  // Every boot: into the pool (pull, then complete) and out of it (complete at once).
  expect(userData).toContain("/var/lib/cloud/scripts/per-boot/");
  const pull = userData.indexOf(
    "docker pull 123456789012.dkr.ecr.us-east-1.amazonaws.com/runner@sha256:abc",
  );
  const complete = userData.indexOf(
    "complete-lifecycle-action --region us-east-1 --auto-scaling-group-name phi4-edge-warm-gpu",
  );
  expect(pull).toBeGreaterThan(0);
  expect(complete).toBeGreaterThan(pull);
  expect(userData).toContain("--lifecycle-hook-name image-pulled");

  const role = byName(deploy, "aws:iam/role:Role", "RunnerInstanceRole").inputs;
  const policy = JSON.parse(role.inlinePolicies[0].policy);
  expect(policy.Statement).toEqual([
    {
      Effect: "Allow",
      Action: ["autoscaling:CompleteLifecycleAction"],
      Resource:
        "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:*:autoScalingGroupName/phi4-edge-warm-gpu",
    },
  ]);
});
