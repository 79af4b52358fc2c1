/**
 * The workflows module's leader loop. It reads the committed state and proposes; it never
 * changes the state itself:
 *
 * - fire: timers that fell due (timer steps, step and workflow timeouts, sub-workflow retries),
 *   in batches, earliest first; the engine refuses one that is not due by the entry's time, so a
 *   leader whose clock runs ahead fires nothing early;
 * - open: approvals the runs wait on become decisions, one entry each (a decision is named by
 *   the index of the entry that opened it);
 * - configure: the settings this leader was started with, when the committed ones differ.
 *
 * One proposal of each kind is in flight at a time.
 */

import { command, type Command } from "../control/index.js";
import type { TimerHandle } from "../runtime/clock.js";
import type { Controller, ControllerContext, Running } from "../runtime/controllers.js";
import { configureWorkflowsCommand, fireCommand, openApprovalCommand } from "./commands.js";
import { workflowsState } from "./module.js";
import { canonicalSettings, RUN_LIMITS, type WorkflowSettings } from "./state.js";

export interface WorkflowsControllerOptions {
  readonly settings: WorkflowSettings;
  /** The longest the loop sleeps when nothing is due (timers are also looked at after every change). */
  readonly tickMs: number;
}

type Kind = "fire" | "open" | "configure";

export function workflowsController(options: WorkflowsControllerOptions): Controller {
  return { name: "workflows.leader", start: (context) => new WorkflowsLoop(context, options) };
}

class WorkflowsLoop implements Running {
  private timer: TimerHandle | null = null;
  private stopped = false;
  private readonly inFlight = new Set<Kind>();
  private readonly unsubscribe: () => void;
  private readonly wanted: string;
  private lastVersion = -1;
  /** The committed settings last seen equal to the wanted ones (the settings object changes on configure). */
  private checked: unknown = null;

  constructor(
    private readonly context: ControllerContext,
    private readonly options: WorkflowsControllerOptions,
  ) {
    this.wanted = JSON.stringify(canonicalSettings(options.settings));
    this.unsubscribe = context.view.onChange(() => {
      const version = context.view.state(workflowsState).version;
      if (version === this.lastVersion) return;
      this.lastVersion = version;
      this.tick();
    });
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    if (this.timer !== null) this.context.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer !== null) this.context.clock.clearTimeout(this.timer);
    this.timer = this.context.clock.setTimeout(() => {
      this.timer = null;
      this.tick();
    }, delayMs);
  }

  private propose(kind: Kind, proposal: Command): void {
    if (this.inFlight.has(kind)) return;
    this.inFlight.add(kind);
    this.context.submit(proposal, (result) => {
      this.inFlight.delete(kind);
      if (!result.ok) this.context.log.debug({ kind, err: result.error }, "workflows proposal not committed");
      // What this proposal did (or did not do) may leave more to do: look again at once.
      if (!this.stopped) this.schedule(0);
    });
  }

  private tick(): void {
    if (this.stopped) return;
    const view = this.context.view;
    if (!view.isLeader()) return;
    const state = view.state(workflowsState);
    const now = this.context.clock.now();
    if (state.settings !== this.checked && JSON.stringify(state.settings) !== this.wanted)
      this.propose(
        "configure",
        command(configureWorkflowsCommand, { settings: canonicalSettings(this.options.settings) }),
      );
    else this.checked = state.settings;
    const due = state.timers.due(now, RUN_LIMITS.fireBatch);
    if (due.length > 0)
      this.propose(
        "fire",
        command(fireCommand, { timers: due.map((timer) => ({ workflow_id: timer.run, timer: timer.id })) }),
      );
    const first = state.unopened.values().next();
    if (!first.done) this.propose("open", command(openApprovalCommand, { approval_id: first.value }));
    const next = state.timers.next();
    const wait = next === null ? this.options.tickMs : Math.max(1, Math.min(this.options.tickMs, next - now));
    if (this.timer === null || due.length === 0) this.schedule(wait);
  }
}
