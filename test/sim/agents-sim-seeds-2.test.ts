// Seeds 36-70 of the agents scenario (agents-sim-seeds.ts says what they prove).

import { describe } from "vitest";
import { agentSeeds } from "./agents-sim-seeds.js";

describe("agents simulation: fixed seeds", () => agentSeeds(36, 70));
