/**
 * The runner service: a task definition that takes one GPU and mounts the shared model volume,
 * a TLS load balancer in front, and the ECS service that ties them to the GPU capacity.
 */
import {
  DRAIN_SECONDS,
  LOAD_BALANCER_IDLE_SECONDS,
  STOP_TIMEOUT_SECONDS,
} from "../gpu-runner/src/server/connection-timeouts";
import { capacityProvider, cluster, clusterCapacity, instanceSecurityGroup } from "./gpu";
import { imageUri } from "./runner-image";
import { hfTokenParameter, runnerSecretParameter } from "./secrets";
import {
  coldStartSeconds,
  longestStreamSeconds,
  modelOverrides,
  parallel,
  runnerDomain,
  runners,
} from "./stage";
import { modelCacheDir, models, vpc } from "./storage";

export const containerName = "runner";
export const containerPort = 8080;
/** Where the runner's load lines become the `Load` metric; scaling.ts tracks it there. */
export const metricsNamespace = `Phi4/${$app.stage}`;

const logGroup = new aws.cloudwatch.LogGroup("RunnerLogs", {
  name: `/${$app.name}/${$app.stage}/runner`,
  retentionInDays: 14,
});

/** Pulls the image, writes logs and reads the two SecureString parameters; nothing else. */
const executionRole = new aws.iam.Role("RunnerExecutionRole", {
  assumeRolePolicy: aws.iam.assumeRolePolicyForPrincipal({ Service: "ecs-tasks.amazonaws.com" }),
  managedPolicyArns: ["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"],
  inlinePolicies: [
    {
      name: "read-runner-secrets",
      policy: $jsonStringify({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Action: ["ssm:GetParameters"],
            Resource: [hfTokenParameter.arn, runnerSecretParameter.arn],
          },
        ],
      }),
    },
  ],
});

/** The runner itself may only mount and write the model volume through its access point. */
const taskRole = new aws.iam.Role("RunnerTaskRole", {
  assumeRolePolicy: aws.iam.assumeRolePolicyForPrincipal({ Service: "ecs-tasks.amazonaws.com" }),
  inlinePolicies: [
    {
      name: "mount-model-volume",
      policy: $jsonStringify({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Action: ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
            Resource: models.nodes.fileSystem.arn,
            Condition: {
              StringEquals: { "elasticfilesystem:AccessPointArn": models.nodes.accessPoint.arn },
            },
          },
        ],
      }),
    },
  ],
});

const readyzCheck = `fetch('http://127.0.0.1:${containerPort}/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`;

export const taskDefinition = new aws.ecs.TaskDefinition("RunnerTask", {
  family: `${$app.name}-${$app.stage}-runner`,
  requiresCompatibilities: ["EC2"],
  // Bridge mode with a dynamic host port: the container uses the instance's public IP to reach
  // the Hub (awsvpc tasks on EC2 get no public IP and would need a NAT gateway).
  networkMode: "bridge",
  executionRoleArn: executionRole.arn,
  taskRoleArn: taskRole.arn,
  volumes: [
    {
      name: "models",
      efsVolumeConfiguration: {
        fileSystemId: models.id,
        transitEncryption: "ENABLED",
        authorizationConfig: { accessPointId: models.accessPoint, iam: "ENABLED" },
      },
    },
  ],
  containerDefinitions: $jsonStringify([
    {
      name: containerName,
      image: imageUri,
      essential: true,
      // g6.xlarge and g5.xlarge: 4 vCPU, 16 GiB; the weights live in VRAM (24 GB).
      cpu: 3072,
      memoryReservation: 12_288,
      resourceRequirements: [{ type: "GPU", value: "1" }],
      portMappings: [{ containerPort, hostPort: 0, protocol: "tcp" }],
      mountPoints: [{ sourceVolume: "models", containerPath: modelCacheDir, readOnly: false }],
      environment: [
        { name: "MODEL_CACHE_DIR", value: modelCacheDir },
        { name: "PORT", value: String(containerPort) },
        { name: "GPU", value: "cuda" },
        { name: "PARALLEL", value: String(parallel) },
        { name: "LOG_LEVEL", value: "info" },
        { name: "DRAIN_SECONDS", value: String(DRAIN_SECONDS) },
        // The runner logs its load once a minute as an EMF line: the `Load` metric.
        { name: "CLOUDWATCH_METRICS_NAMESPACE", value: metricsNamespace },
        ...modelOverrides,
      ],
      // Injected by the ECS agent from SSM at start: never in the task definition in plain text.
      secrets: [
        { name: "HF_TOKEN", valueFrom: hfTokenParameter.arn },
        { name: "RUNNER_SECRET", valueFrom: runnerSecretParameter.arn },
      ],
      // Ready means loaded. A cold start downloads ~9 GB and loads it: 300 s of grace plus
      // 10 failures 150 s apart gives it 30 minutes before ECS replaces the task.
      healthCheck: {
        command: ["CMD", "node", "-e", readyzCheck],
        startPeriod: 300,
        interval: 150,
        timeout: 10,
        retries: 10,
      },
      // The load balancer drains streams first (deregistration delay); then SIGTERM gives the
      // runner DRAIN_SECONDS, below this, before SIGKILL.
      stopTimeout: STOP_TIMEOUT_SECONDS,
      logConfiguration: {
        logDriver: "awslogs",
        options: {
          "awslogs-group": logGroup.name,
          "awslogs-region": aws.getRegionOutput().region,
          "awslogs-stream-prefix": "runner",
          mode: "non-blocking",
        },
      },
    },
  ]),
});

export const targetGroup = new aws.lb.TargetGroup("RunnerTargets", {
  vpcId: vpc.id,
  port: containerPort,
  protocol: "HTTP",
  targetType: "instance",
  // A long generation must finish on a runner being scaled in or replaced.
  deregistrationDelay: longestStreamSeconds,
  // Send each request to the runner with the fewest in flight, not round-robin.
  loadBalancingAlgorithmType: "least_outstanding_requests",
  healthCheck: {
    path: "/readyz",
    matcher: "200",
    interval: 15,
    timeout: 5,
    healthyThreshold: 2,
    unhealthyThreshold: 3,
  },
});

/** TLS on a name in the Cloudflare zone (certificate validated through Cloudflare DNS). */
export const loadBalancer = new sst.aws.Alb("RunnerLb", {
  vpc,
  domain: { name: runnerDomain, dns: sst.cloudflare.dns() },
  listeners: [{ port: 443, protocol: "https" }],
  transform: {
    // Streams keep bytes flowing with pings; this only closes connections that went silent.
    // The runner keeps idle connections longer (connection-timeouts.ts), or callers see 502s.
    loadBalancer: { idleTimeout: LOAD_BALANCER_IDLE_SECONDS },
    // HTTPS only (SST's default group admits every port).
    securityGroup: (args) => {
      args.ingress = [
        { protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"] },
        { protocol: "tcp", fromPort: 443, toPort: 443, ipv6CidrBlocks: ["::/0"] },
      ];
      return undefined;
    },
    listener: (args) => {
      args.sslPolicy = "ELBSecurityPolicy-TLS13-1-2-2021-06";
      args.defaultActions = [{ type: "forward", targetGroupArn: targetGroup.arn }];
      return undefined;
    },
  },
});

/** The GPU instances accept the load balancer on the dynamic host ports, and nothing else. */
new aws.vpc.SecurityGroupIngressRule("RunnerFromLb", {
  securityGroupId: instanceSecurityGroup.id,
  referencedSecurityGroupId: loadBalancer.securityGroupId,
  ipProtocol: "tcp",
  fromPort: 32768,
  toPort: 65535,
});

export const runnerUrl = `https://${runnerDomain}`;

export const service = new aws.ecs.Service(
  "Runner",
  {
    cluster: cluster.arn,
    taskDefinition: taskDefinition.arn,
    desiredCount: runners.min,
    capacityProviderStrategies: [{ capacityProvider: capacityProvider.name, weight: 1 }],
    loadBalancers: [{ targetGroupArn: targetGroup.arn, containerName, containerPort }],
    // The load balancer's /readyz fails while a cold runner downloads; don't kill it for that.
    healthCheckGracePeriodSeconds: coldStartSeconds,
    placementConstraints: [{ type: "distinctInstance" }],
    deploymentMinimumHealthyPercent: 100,
    deploymentMaximumPercent: 200,
    deploymentCircuitBreaker: { enable: true, rollback: true },
    waitForSteadyState: false,
    // Delete even with tasks running (a stage is removed while awake).
    forceDelete: true,
  },
  {
    // Autoscaling and the edge's wake-up own the desired count after creation.
    ignoreChanges: ["desiredCount"],
    // Tasks need the capacity provider associated with the cluster (and the association can
    // only go once the service is gone); the listener must exist for the target group.
    dependsOn: [clusterCapacity, loadBalancer],
    // Deleting drains every target (deregistration delay), then stops the tasks.
    customTimeouts: {
      delete: `${Math.ceil((longestStreamSeconds + STOP_TIMEOUT_SECONDS) / 60) + 10}m`,
    },
  },
);
