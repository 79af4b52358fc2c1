/**
 * A2A agent cards: an agent registered by `agent_card_url` has its name, skills (ids and tags) and
 * URL read from the card at registration (routes.ts), and this leader-only controller reads the
 * cards again every refresh interval, a few at a time, proposing an update when the skills the
 * card lists have changed. A card that cannot be read changes nothing (the agent's health is the
 * monitor's business, not the card's).
 */

import type { Controller, ControllerContext, Running } from "../runtime/controllers.js";
import type { TimerHandle } from "../runtime/clock.js";
import {
  AGENT_LIMITS,
  NAME_PATTERN,
  healthCheckBody,
  registerCommand,
  type Registration,
} from "./commands.js";
import { agentsState } from "./module.js";
import type { AgentCard } from "./routes.js";
import type { Agent } from "./state.js";

/** Cards read at once. */
const CONCURRENT_READS = 4;
const SKILL = new RegExp(NAME_PATTERN);

/** Turns a card's skill ids and tags into skill names juno accepts (letters, digits, `._:/-`). */
export function cardSkills(card: AgentCard): string[] {
  const skills = new Set<string>();
  for (const raw of card.skills) {
    const skill = raw
      .trim()
      .replace(/[^A-Za-z0-9._:/-]+/g, "-")
      .replace(/^[^A-Za-z0-9]+/, "")
      .slice(0, 100);
    if (SKILL.test(skill)) skills.add(skill);
    if (skills.size >= AGENT_LIMITS.skills) break;
  }
  return [...skills];
}

/** The leader-only controller that refreshes agent cards. */
export function cardRefreshController(
  readCard: (url: string) => Promise<AgentCard>,
  refreshMs: number,
): Controller {
  return {
    name: "agents.cards",
    start: (context) => new CardRefresh(context, readCard, refreshMs),
  };
}

class CardRefresh implements Running {
  private timer: TimerHandle | null = null;
  private stopped = false;

  constructor(
    private readonly context: ControllerContext,
    private readonly readCard: (url: string) => Promise<AgentCard>,
    private readonly refreshMs: number,
  ) {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.context.clock.clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.context.clock.setTimeout(
      () => void this.round().finally(() => this.schedule()),
      this.refreshMs,
    );
  }

  private async round(): Promise<void> {
    const agents = [...this.context.view.state(agentsState).all()].filter(
      (agent) => agent.agentCardUrl !== null,
    );
    let next = 0;
    const worker = async (): Promise<void> => {
      while (!this.stopped && next < agents.length) await this.refresh(agents[next++]!);
    };
    await Promise.all(Array.from({ length: CONCURRENT_READS }, worker));
  }

  private async refresh(agent: Agent): Promise<void> {
    let card: AgentCard;
    try {
      card = await this.readCard(agent.agentCardUrl!);
    } catch (error) {
      this.context.log.debug({ agent: agent.id, error: String(error) }, "agent card not read");
      return;
    }
    const skills = cardSkills(card);
    const current = this.context.view.state(agentsState).get(agent.id);
    if (this.stopped || current === undefined || sameSkills(current.skills, skills)) return;
    this.context.submit({ kind: registerCommand.kind, body: registrationOf(current, skills) });
  }
}

function sameSkills(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((skill, i) => skill === b[i]);
}

/** `agent`'s registration with new skills (the same name and endpoint: an update, not a new agent). */
function registrationOf(agent: Agent, skills: string[]): Registration {
  return {
    id: agent.id,
    name: agent.name,
    endpoint: agent.endpoint,
    team: agent.team,
    skills,
    capacity: agent.capacity,
    weight: agent.weight,
    labels: agent.labels.map(([key, value]) => [key, value]),
    metadata: agent.metadata,
    health_check: healthCheckBody(agent.healthCheck),
    agent_card_url: agent.agentCardUrl,
    source: agent.source,
    source_key: agent.sourceKey,
  };
}
