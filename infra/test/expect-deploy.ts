/** Readers for the mocked resources the stage tests assert on. */
import type { MockedDeploy } from "./deploy-under-mocks";

export interface ContainerDefinition {
  name: string;
  image: string;
  command?: string[];
  essential?: boolean;
  resourceRequirements?: { type: string; value: string }[];
  mountPoints?: { sourceVolume: string; containerPath: string }[];
  environment?: { name: string; value: string }[];
  secrets?: { name: string; valueFrom: string }[];
  healthCheck?: {
    command: string[];
    startPeriod: number;
    interval: number;
    retries: number;
  };
}

export function container(deploy: MockedDeploy, name: string): ContainerDefinition {
  const task = deploy.one("aws:ecs/taskDefinition:TaskDefinition");
  const containers = JSON.parse(task.inputs.containerDefinitions) as ContainerDefinition[];
  const found = containers.find((c) => c.name === name);
  if (!found) throw new Error(`no ${name} container in the task definition`);
  return found;
}

export function runnerContainer(deploy: MockedDeploy): ContainerDefinition {
  return container(deploy, "runner");
}

export function envOf(container: ContainerDefinition): Record<string, string> {
  return Object.fromEntries((container.environment ?? []).map((e) => [e.name, e.value]));
}

export interface WorkerBinding {
  name: string;
  type: string;
  text?: string;
  namespaceId?: string;
  className?: string;
}

export function workerBindings(deploy: MockedDeploy): Record<string, WorkerBinding> {
  const script = deploy.one("cloudflare:index/workersScript:WorkersScript");
  // Secret inputs arrive wrapped ({ <sig>: …, value }) under Pulumi mocks.
  const raw = script.inputs.bindings;
  const list = (Array.isArray(raw) ? raw : raw.value) as WorkerBinding[];
  return Object.fromEntries(list.map((b) => [b.name, b]));
}

export function byName(deploy: MockedDeploy, type: string, name: string) {
  const found = deploy.ofType(type).find((r) => r.name === name);
  if (!found) throw new Error(`no ${type} named ${name}`);
  return found;
}
