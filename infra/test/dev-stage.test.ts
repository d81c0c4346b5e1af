import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
/**
 * The real sst.config.ts for a dev stage, under Pulumi mocks: each test names a property of the
 * deployment that would be wrong if the infrastructure were (GPU, volume, secrets, health,
 * scaling, the Worker's bindings).
 */
import { describe, expect, test } from "vitest";
import { deployStage, expectAlarmFollows, sleepRule, wakeRule } from "./deploy-rules";
import { type MockedDeploy, root, testEnv } from "./deploy-under-mocks";
import { byName, envOf, runnerContainer, workerBindings } from "./expect-deploy";

let deploy: MockedDeploy;
deployStage("dev", testEnv, (d) => {
  deploy = d;
});

describe("GPU capacity", () => {
  test("the runner container requires one GPU and runs on EC2 capacity", () => {
    expect(runnerContainer(deploy).resourceRequirements).toContainEqual({
      type: "GPU",
      value: "1",
    });
    const task = deploy.one("aws:ecs/taskDefinition:TaskDefinition");
    expect(task.inputs.requiresCompatibilities).toEqual(["EC2"]);
  });

  test("instances boot the ECS GPU AMI, G6/G5 types, and join the cluster with GPU support", () => {
    const ami = deploy.calls.find((c) => c.token === "aws:ssm/getParameter:getParameter");
    expect(ami?.inputs.name).toBe(
      "/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id",
    );
    const template = deploy.one("aws:ec2/launchTemplate:LaunchTemplate");
    const userData = Buffer.from(template.inputs.userData, "base64").toString();
    expect(userData).toContain("ECS_ENABLE_GPU_SUPPORT=true");
    expect(userData).toContain("ECS_CLUSTER=");

    const asg = deploy.one("aws:autoscaling/group:Group");
    const types = asg.inputs.mixedInstancesPolicy.launchTemplate.overrides.map(
      (o: { instanceType: string }) => o.instanceType,
    );
    expect(types).toEqual(["g6.xlarge", "g5.xlarge"]);
    expect(asg.inputs.minSize).toBe(0);
    expect(asg.inputs.protectFromScaleIn).toBe(true);
    // No warm pool unless PHI4_WARM_INSTANCES asks for one (infra/test/warm-pool.test.ts).
    expect(asg.inputs.warmPool).toBeUndefined();
    expect(userData).toContain("ECS_WARM_POOLS_CHECK=false");
  });

  test("the service places tasks through a managed-scaling capacity provider", () => {
    const provider = deploy.one("aws:ecs/capacityProvider:CapacityProvider");
    const asgProvider = provider.inputs.autoScalingGroupProvider;
    expect(asgProvider.managedScaling.status).toBe("ENABLED");
    expect(asgProvider.managedTerminationProtection).toBe("ENABLED");
    const service = deploy.one("aws:ecs/service:Service");
    expect(service.inputs.launchType).toBeUndefined();
    expect(service.inputs.capacityProviderStrategies).toEqual([
      { capacityProvider: provider.inputs.name ?? "GpuCapacity-name", weight: 1 },
    ]);
  });
});

describe("model volume", () => {
  test("the EFS volume is mounted at the runner's MODEL_CACHE_DIR", () => {
    const runner = runnerContainer(deploy);
    const cacheDir = envOf(runner).MODEL_CACHE_DIR;
    expect(cacheDir).toBe("/models");
    const task = deploy.one("aws:ecs/taskDefinition:TaskDefinition");
    const [volume] = task.inputs.volumes;
    expect(runner.mountPoints).toContainEqual(
      expect.objectContaining({ sourceVolume: volume.name, containerPath: cacheDir }),
    );
    const fileSystem = deploy.one("aws:efs/fileSystem:FileSystem");
    expect(volume.efsVolumeConfiguration.fileSystemId).toBe(`${fileSystem.name}-id`);
    expect(volume.efsVolumeConfiguration.transitEncryption).toBe("ENABLED");
  });

  test("a dev stage's volume and keys go with `sst remove`", () => {
    expect(deploy.one("aws:efs/fileSystem:FileSystem").retainOnDelete).toBe(false);
    expect(
      deploy.one("cloudflare:index/workersKvNamespace:WorkersKvNamespace").retainOnDelete,
    ).toBe(false);
  });

  test("the file system is encrypted, elastic, and entered as the image's runner user", () => {
    const fileSystem = deploy.one("aws:efs/fileSystem:FileSystem");
    expect(fileSystem.inputs.encrypted).toBe(true);
    expect(fileSystem.inputs.throughputMode).toBe("elastic");
    const accessPoint = deploy.one("aws:efs/accessPoint:AccessPoint");
    expect(accessPoint.inputs.posixUser).toEqual({ uid: 10001, gid: 10001 });
    expect(accessPoint.inputs.rootDirectory.creationInfo.ownerUid).toBe(10001);
    const task = deploy.one("aws:ecs/taskDefinition:TaskDefinition");
    expect(task.inputs.volumes[0].efsVolumeConfiguration.authorizationConfig.accessPointId).toBe(
      `${accessPoint.name}-id`,
    );
  });
});

describe("secrets", () => {
  test("HF_TOKEN and RUNNER_SECRET come from SecureString parameters, not the environment", () => {
    const runner = runnerContainer(deploy);
    const env = envOf(runner);
    expect(env).not.toHaveProperty("HF_TOKEN");
    expect(env).not.toHaveProperty("RUNNER_SECRET");
    const hf = byName(deploy, "aws:ssm/parameter:Parameter", "HfTokenParameter");
    const rs = byName(deploy, "aws:ssm/parameter:Parameter", "RunnerSecretParameter");
    expect(hf.inputs.type).toBe("SecureString");
    expect(rs.inputs.type).toBe("SecureString");
    expect(runner.secrets).toEqual([
      {
        name: "HF_TOKEN",
        valueFrom: `arn:aws:mock:us-east-1:123456789012:ssm/parameter/${hf.name}`,
      },
      {
        name: "RUNNER_SECRET",
        valueFrom: `arn:aws:mock:us-east-1:123456789012:ssm/parameter/${rs.name}`,
      },
    ]);
  });

  test("no secret value appears anywhere but its parameter and the Worker's secret bindings", () => {
    const secrets = [testEnv.SST_SECRET_HfToken, testEnv.SST_SECRET_RunnerSecret];
    for (const resource of deploy.resources) {
      if (resource.type === "aws:ssm/parameter:Parameter") continue;
      if (resource.type === "cloudflare:index/workersScript:WorkersScript") continue;
      const text = JSON.stringify(resource.inputs);
      for (const secret of secrets) {
        expect(text, `${resource.type} ${resource.name}`).not.toContain(secret);
      }
    }
    const bindings = Object.values(workerBindings(deploy));
    const leaking = bindings.filter(
      (b) => b.type !== "secret_text" && secrets.some((s) => JSON.stringify(b).includes(s)),
    );
    expect(leaking).toEqual([]);
  });

  test("only the execution role may read the two parameters", () => {
    const role = byName(deploy, "aws:iam/role:Role", "RunnerExecutionRole");
    const policy = JSON.parse(role.inputs.inlinePolicies[0].policy);
    expect(policy.Statement).toEqual([
      expect.objectContaining({
        Action: ["ssm:GetParameters"],
        Resource: [
          expect.stringContaining("HfTokenParameter"),
          expect.stringContaining("RunnerSecretParameter"),
        ],
      }),
    ]);
  });
});

describe("health and draining", () => {
  test("the load balancer routes only to runners whose /readyz is 200", () => {
    const targets = deploy.one("aws:lb/targetGroup:TargetGroup");
    expect(targets.inputs.healthCheck.path).toBe("/readyz");
    expect(targets.inputs.healthCheck.matcher).toBe("200");
  });

  test("a cold start (download + load) gets 30 minutes before it counts as failed", () => {
    const health = runnerContainer(deploy).healthCheck!;
    expect(health.command.join(" ")).toContain("/readyz");
    expect(health.startPeriod + health.interval * health.retries).toBeGreaterThanOrEqual(1800);
    const service = deploy.one("aws:ecs/service:Service");
    expect(service.inputs.healthCheckGracePeriodSeconds).toBeGreaterThanOrEqual(1800);
  });

  test("draining outlasts the longest stream and the listener speaks TLS only", () => {
    const targets = deploy.one("aws:lb/targetGroup:TargetGroup");
    expect(targets.inputs.deregistrationDelay).toBeGreaterThanOrEqual(1800);
    const listeners = deploy.ofType("aws:lb/listener:Listener");
    expect(listeners.map((l) => [l.inputs.port, l.inputs.protocol])).toEqual([[443, "HTTPS"]]);
    expect(listeners[0]!.inputs.certificateArn).toContain("certificate");
    const lbGroup = byName(deploy, "aws:ec2/securityGroup:SecurityGroup", "RunnerLbSecurityGroup");
    const ports = lbGroup.inputs.ingress.map((r: { fromPort: number; toPort: number }) => [
      r.fromPort,
      r.toPort,
    ]);
    expect(ports).toEqual([
      [443, 443],
      [443, 443],
    ]);
    expect(listeners[0]!.inputs.defaultActions).toEqual([
      { type: "forward", targetGroupArn: expect.stringContaining(targets.name) },
    ]);
  });

  test("GPU instances admit only the load balancer", () => {
    const rule = deploy.one("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule");
    expect(rule.inputs.referencedSecurityGroupId).toBe("RunnerLbSecurityGroup-id");
    expect(rule.inputs.cidrIpv4).toBeUndefined();
    const instances = byName(deploy, "aws:ec2/securityGroup:SecurityGroup", "RunnerInstances");
    expect(instances.inputs.ingress ?? []).toEqual([]);
  });
});

describe("scaling in a dev stage", () => {
  test("runners scale between 0 and 1", () => {
    const target = deploy.one("aws:appautoscaling/target:Target");
    expect([target.inputs.minCapacity, target.inputs.maxCapacity]).toEqual([0, 1]);
    expect(deploy.one("aws:ecs/service:Service").inputs.desiredCount).toBe(0);
    // One instance more, for the new task of a rolling deploy.
    expect(deploy.one("aws:autoscaling/group:Group").inputs.maxSize).toBe(2);
  });

  test("load is tracked on the metric the runner itself logs, aiming at PARALLEL", () => {
    const runner = runnerContainer(deploy);
    const namespace = envOf(runner).CLOUDWATCH_METRICS_NAMESPACE;
    expect(namespace).toBe("Phi4/dev");
    // The runner is the task's only container: no sidecar polling it.
    const task = deploy.one("aws:ecs/taskDefinition:TaskDefinition");
    expect(JSON.parse(task.inputs.containerDefinitions)).toHaveLength(1);
    const load = byName(deploy, "aws:appautoscaling/policy:Policy", "RunnerLoad");
    const config = load.inputs.targetTrackingScalingPolicyConfiguration;
    expect(config.customizedMetricSpecification).toMatchObject({
      namespace,
      metricName: "Load",
      dimensions: [{ name: "Service", value: "runner" }],
      statistic: "Average",
    });
    expect(config.targetValue).toBe(Number(envOf(runnerContainer(deploy)).PARALLEL));
  });

  test("the wake and sleep alarms are the scale-to-zero rules (infra/scale-to-zero.ts)", () => {
    expectAlarmFollows(deploy, "RunnerWakeAlarm", wakeRule);
    expectAlarmFollows(deploy, "RunnerSleepAlarm", sleepRule(30));
  });
});

describe("the edge Worker", () => {
  test("is the functions/ handler, bound to the runner URL on the load balancer's TLS name", () => {
    const worker = deploy.one("sst:cloudflare:Worker");
    expect(worker.name).toBe("Edge");
    const bindings = workerBindings(deploy);
    expect(bindings.RUNNER_URL).toMatchObject({
      type: "plain_text",
      text: "https://runner-dev.phi4.example.com",
    });
    expect(deploy.outputs.runner).toBe(bindings.RUNNER_URL!.text);
    const dns = deploy
      .ofType("cloudflare:index/dnsRecord:DnsRecord")
      .find((r) => r.inputs.name === "runner-dev.phi4.example.com");
    expect(dns?.inputs).toMatchObject({
      type: "CNAME",
      content: "runner-lb.us-east-1.elb.amazonaws.com",
    });
  });

  test("answers callers on its custom domain in the zone", () => {
    const domain = deploy.one("cloudflare:index/workersCustomDomain:WorkersCustomDomain");
    expect(domain.inputs.hostname).toBe("api-dev.phi4.example.com");
    expect(deploy.outputs.api).toBe("https://api-dev.phi4.example.com");
  });

  test("gets RUNNER_SECRET as a secret, KEYS as a KV namespace, and its limiter object", () => {
    const bindings = workerBindings(deploy);
    expect(bindings.RUNNER_SECRET).toEqual({
      name: "RUNNER_SECRET",
      type: "secret_text",
      text: testEnv.SST_SECRET_RunnerSecret,
    });
    const kv = deploy.one("cloudflare:index/workersKvNamespace:WorkersKvNamespace");
    expect(bindings.KEYS).toMatchObject({ type: "kv_namespace", namespaceId: `${kv.name}-id` });
    expect(bindings.LIMITER).toMatchObject({
      type: "durable_object_namespace",
      className: "KeyLimiter",
    });
    const script = deploy.one("cloudflare:index/workersScript:WorkersScript");
    expect(script.inputs.migrations).toEqual({
      newTag: "v1",
      steps: [{ newSqliteClasses: ["KeyLimiter"] }],
    });
  });

  test("serves the built playground as static assets, API paths to the Worker first, as wrangler.jsonc does", () => {
    const script = deploy.one("cloudflare:index/workersScript:WorkersScript");
    const directory = script.inputs.assets.directory as string;
    expect(directory).toBe(path.join(root, "functions/playground/dist"));
    expect(existsSync(path.join(directory, "index.html"))).toBe(true);
    expect(script.inputs.assets.config.headers).toContain("Content-Security-Policy");
    const jsonc = readFileSync(new URL("../../functions/wrangler.jsonc", import.meta.url), "utf8");
    const local = JSON.parse(jsonc.replace(/^\s*\/\/.*$/gm, "")) as {
      assets: { directory: string; run_worker_first: string[] };
    };
    expect(path.resolve(root, "functions", local.assets.directory)).toBe(directory);
    // API paths skip the assets lookup in both.
    expect(script.inputs.assets.config.runWorkerFirst).toEqual(local.assets.run_worker_first);
  });

  test("runs with the compatibility date and flags `wrangler dev` uses locally", () => {
    // wrangler.jsonc has whole-line comments only; its strings may contain "//".
    const jsonc = readFileSync(new URL("../../functions/wrangler.jsonc", import.meta.url), "utf8");
    const local = JSON.parse(jsonc.replace(/^\s*\/\/.*$/gm, "")) as {
      compatibility_date: string;
      compatibility_flags: string[];
    };
    const script = deploy.one("cloudflare:index/workersScript:WorkersScript");
    expect(script.inputs.compatibilityDate).toBe(local.compatibility_date);
    expect([...script.inputs.compatibilityFlags].sort()).toEqual(
      [...local.compatibility_flags].sort(),
    );
  });

  test("can wake the runners with a key allowed only to update and describe that service", () => {
    const bindings = workerBindings(deploy);
    expect(bindings.AWS_SECRET_ACCESS_KEY?.type).toBe("secret_text");
    expect(bindings.AWS_ACCESS_KEY_ID?.type).toBe("plain_text");
    expect(bindings.ECS_SERVICE?.text).toBe(deploy.outputs.service);
    expect(bindings.AWS_REGION?.text).toBe("us-east-1");
    const policy = JSON.parse(deploy.one("aws:iam/userPolicy:UserPolicy").inputs.policy);
    expect(policy.Statement).toEqual([
      {
        Effect: "Allow",
        Action: ["ecs:UpdateService", "ecs:DescribeServices"],
        Resource: ["arn:aws:mock:us-east-1:123456789012:ecs/service/Runner"],
      },
    ]);
  });
});
