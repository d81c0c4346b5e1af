/**
 * GPU capacity: an ECS cluster backed by an Auto Scaling group of GPU instances (ECS GPU AMI)
 * through a capacity provider with managed scaling, so instances follow the tasks: one runner
 * task needs one GPU, and an instance appears when a task is placed and goes when none is left.
 * `sst.aws.Service` is Fargate-only (no GPUs), hence the raw resources.
 */
import { instanceTypes, runners } from "./stage";
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

const instanceRole = new aws.iam.Role("RunnerInstanceRole", {
  assumeRolePolicy: aws.iam.assumeRolePolicyForPrincipal({ Service: "ec2.amazonaws.com" }),
  managedPolicyArns: [
    "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role",
    // Session Manager instead of SSH: no key pair, no open port.
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
  ],
});
const instanceProfile = new aws.iam.InstanceProfile("RunnerInstanceProfile", {
  role: instanceRole.name,
});

const gpuAmi = aws.ssm.getParameterOutput({
  name: "/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id",
});

const userData = $interpolate`#!/bin/bash
cat >>/etc/ecs/ecs.config <<CONFIG
ECS_CLUSTER=${cluster.name}
ECS_ENABLE_GPU_SUPPORT=true
ECS_IMAGE_PULL_BEHAVIOR=prefer-cached
ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION=10m
CONFIG
`;

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
