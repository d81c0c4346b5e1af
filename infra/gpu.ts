/**
 * GPU capacity: an ECS cluster backed by an Auto Scaling group of GPU instances (ECS GPU AMI)
 * through a capacity provider with managed scaling, so instances follow the tasks: one runner
 * task needs one GPU, and an instance appears when a task is placed and goes when none is left.
 * `sst.aws.Service` is Fargate-only (no GPUs), hence the raw resources.
 */
import { imageUri, repository } from "./runner-image";
import { instanceTypes, runners, warmInstances } from "./stage";
import { vpc } from "./storage";

export const cluster = new aws.ecs.Cluster("Cluster", {
  settings: [{ name: "containerInsights", value: "enabled" }],
});

/** Security group of the GPU instances; the load balancer's group is allowed in by runner.ts. */
export const instanceSecurityGroup = new aws.ec2.SecurityGroup("RunnerInstances", {
  vpcId: vpc.id,
  description: "phi4 GPU runner instances",
  egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }],
});

/** Named when it has a warm pool: the instances complete its lifecycle hook by name. */
const groupName = `${$app.name}-${$app.stage}-gpu`;
const warmHook = "image-pulled";
const region = aws.getRegionOutput().region;
const account = aws.getCallerIdentityOutput().accountId;

const instanceRole = new aws.iam.Role("RunnerInstanceRole", {
  assumeRolePolicy: aws.iam.assumeRolePolicyForPrincipal({ Service: "ec2.amazonaws.com" }),
  managedPolicyArns: [
    "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role",
    // Session Manager instead of SSH: no key pair, no open port.
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
  ],
  inlinePolicies:
    warmInstances > 0
      ? [
          {
            name: "complete-warm-pool-hook",
            policy: $jsonStringify({
              Version: "2012-10-17",
              Statement: [
                {
                  Effect: "Allow",
                  Action: ["autoscaling:CompleteLifecycleAction"],
                  Resource: $interpolate`arn:aws:autoscaling:${region}:${account}:autoScalingGroup:*:autoScalingGroupName/${groupName}`,
                },
              ],
            }),
          },
        ]
      : [],
});
const instanceProfile = new aws.iam.InstanceProfile("RunnerInstanceProfile", {
  role: instanceRole.name,
});

const gpuAmi = aws.ssm.getParameterOutput({
  name: "/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id",
});

const ecsConfig = $interpolate`cat >>/etc/ecs/ecs.config <<CONFIG
ECS_CLUSTER=${cluster.name}
ECS_ENABLE_GPU_SUPPORT=true
ECS_IMAGE_PULL_BEHAVIOR=prefer-cached
ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION=10m
ECS_WARM_POOLS_CHECK=${warmInstances > 0 ? "true" : "false"}
CONFIG
`;

/**
 * With a warm pool, every boot (cloud-init per-boot script) completes the launch lifecycle
 * hook: on the way into the pool only after pulling the runner image (the instance is then
 * stopped with it on disk), on the way out at once, so a wake is not held up.
 */
const warmPoolBoot = $interpolate`mkdir -p /var/lib/cloud/scripts/per-boot
cat >/var/lib/cloud/scripts/per-boot/phi4-warm-pool.sh <<'SCRIPT'
#!/bin/bash
imds() {
  token=$(curl -sf -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')
  curl -sf -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/meta-data/$1"
}
# In the background: cloud-init must finish for the boot (and Docker) to go on.
(
  state=$(imds autoscaling/target-lifecycle-state)
  case "$state" in
    Warmed:*)
      until docker info >/dev/null 2>&1; do sleep 2; done
      aws ecr get-login-password --region ${region} | docker login --username AWS --password-stdin ${repository.repositoryUrl}
      docker pull ${imageUri} ;;
  esac
  aws autoscaling complete-lifecycle-action --region ${region} --auto-scaling-group-name ${groupName} \\
    --lifecycle-hook-name ${warmHook} --lifecycle-action-result CONTINUE --instance-id "$(imds instance-id)"
) >>/var/log/phi4-warm-pool.log 2>&1 &
SCRIPT
chmod +x /var/lib/cloud/scripts/per-boot/phi4-warm-pool.sh
/var/lib/cloud/scripts/per-boot/phi4-warm-pool.sh
`;

const userData = $interpolate`#!/bin/bash
${ecsConfig}${warmInstances > 0 ? warmPoolBoot : ""}`;

const launchTemplate = new aws.ec2.LaunchTemplate("RunnerLaunchTemplate", {
  imageId: gpuAmi.value,
  iamInstanceProfile: { arn: instanceProfile.arn },
  userData: userData.apply((script) => Buffer.from(script).toString("base64")),
  networkInterfaces: [
    { associatePublicIpAddress: "true", securityGroups: [instanceSecurityGroup.id] },
  ],
  // The CUDA image is several GB; the model itself lives on the shared volume.
  blockDeviceMappings: [
    {
      deviceName: "/dev/xvda",
      ebs: { volumeSize: 100, volumeType: "gp3", encrypted: "true", deleteOnTermination: "true" },
    },
  ],
  // Hop limit 1: the host (ECS agent) reaches the metadata service, containers behind the
  // docker bridge (one hop more) do not, so they cannot take the instance role's credentials.
  metadataOptions: { httpTokens: "required", httpPutResponseHopLimit: 1 },
  tagSpecifications: [
    { resourceType: "instance", tags: { Name: `${$app.name}-${$app.stage}-gpu` } },
  ],
});

/**
 * One instance more than runners: a rolling deploy starts a new task (one GPU, so one instance)
 * before it stops an old one, also when the stage runs at its maximum.
 */
export const maxInstances = runners.max + 1;

export const autoScalingGroup = new aws.autoscaling.Group(
  "RunnerInstances",
  {
    ...(warmInstances > 0 ? { name: groupName } : {}),
    vpcZoneIdentifiers: vpc.publicSubnets,
    minSize: 0,
    maxSize: maxInstances,
    // Managed termination protection: ECS, not the ASG, decides which instance may go.
    protectFromScaleIn: true,
    // On delete, terminate protected instances instead of waiting for them forever.
    forceDelete: true,
    mixedInstancesPolicy: {
      instancesDistribution: {
        onDemandBaseCapacity: 0,
        onDemandPercentageAboveBaseCapacity: 100,
        onDemandAllocationStrategy: "prioritized",
      },
      launchTemplate: {
        launchTemplateSpecification: {
          launchTemplateId: launchTemplate.id,
          version: "$Latest",
        },
        overrides: instanceTypes.map((instanceType) => ({ instanceType })),
      },
    },
    tags: [{ key: "AmazonECSManaged", value: "true", propagateAtLaunch: true }],
    ...(warmInstances > 0
      ? {
          // Stopped instances: their disks (with the image) are billed, not their hours.
          warmPool: {
            poolState: "Stopped",
            minSize: warmInstances,
            maxGroupPreparedCapacity: warmInstances,
            instanceReusePolicy: { reuseOnScaleIn: true },
          },
          forceDeleteWarmPool: true,
          initialLifecycleHooks: [
            {
              name: warmHook,
              lifecycleTransition: "autoscaling:EC2_INSTANCE_LAUNCHING",
              // A ~6 GB pull; an instance that never reports goes on after this anyway.
              heartbeatTimeout: 900,
              defaultResult: "CONTINUE",
            },
          ],
        }
      : {}),
  },
  // Terminating GPU instances takes a few minutes each.
  { customTimeouts: { delete: "20m" } },
);

export const capacityProvider = new aws.ecs.CapacityProvider("GpuCapacity", {
  autoScalingGroupProvider: {
    autoScalingGroupArn: autoScalingGroup.arn,
    managedTerminationProtection: "ENABLED",
    managedDraining: "ENABLED",
    managedScaling: {
      status: "ENABLED",
      targetCapacity: 100,
      minimumScalingStepSize: 1,
      maximumScalingStepSize: maxInstances,
      instanceWarmupPeriod: 300,
    },
  },
});

/** The service must be created after, and deleted before, this association (runner.ts). */
export const clusterCapacity = new aws.ecs.ClusterCapacityProviders("ClusterCapacity", {
  clusterName: cluster.name,
  capacityProviders: [capacityProvider.name],
  defaultCapacityProviderStrategies: [{ capacityProvider: capacityProvider.name, weight: 1 }],
});
