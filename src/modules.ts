/**
 * The domain modules a juno node runs, in snapshot-section order. This list is the one place a
 * new domain is registered; the node, the server and the store take it as given.
 */

import { createAccessModule, type AccessModule, type AccessOptions } from "./access/index.js";
import { createAgentsModule, type AgentsModule, type AgentsOptions } from "./agents/index.js";
import { DEFAULT_HEALTH_SETTINGS } from "./agents/health/settings.js";
import { createClusterModule, type ClusterModule, type ClusterOptions } from "./cluster/index.js";
import { ModuleRegistry } from "./control/index.js";
import { decisionsModule } from "./decisions/index.js";
import type { AnyDomainModule } from "./runtime/domain-module.js";
import { createTasksModule, type TasksModule, type TasksOptions } from "./tasks/index.js";
import { createWorkflowsModule, type WorkflowsModule, type WorkflowsOptions } from "./workflows/index.js";

/** This node's modules, and its cluster module (whose directory the edge uses to find members). */
export interface NodeModules {
  readonly registry: ModuleRegistry<AnyDomainModule>;
  readonly cluster: ClusterModule;
  readonly agents: AgentsModule;
  readonly tasks: TasksModule;
  readonly workflows: WorkflowsModule;
  readonly access: AccessModule;
}

/** Builds the modules of one node, plus any `extra` ones (the simulator's test modules). */
export function nodeModules(
  cluster: ClusterOptions,
  extra: readonly AnyDomainModule[] = [],
  agents: AgentsOptions = {},
  tasks: TasksOptions = {},
  workflows: WorkflowsOptions = {},
  access: AccessOptions = {},
): NodeModules {
  const clusterModule = createClusterModule(cluster);
  const agentsModule = createAgentsModule(agents);
  const tasksModule = createTasksModule({
    beats: agentsModule.relay,
    leaseMs: agents.failureTimeoutMs ?? DEFAULT_HEALTH_SETTINGS.failureTimeoutMs,
    ...tasks,
  });
  const workflowsModule = createWorkflowsModule(workflows);
  const accessModule = createAccessModule(access);
  return {
    cluster: clusterModule,
    workflows: workflowsModule,
    agents: agentsModule,
    tasks: tasksModule,
    access: accessModule,
    registry: new ModuleRegistry<AnyDomainModule>([
      clusterModule,
      decisionsModule,
      agentsModule,
      tasksModule,
      workflowsModule,
      accessModule,
      ...extra,
    ]),
  };
}
