// Seeds 1-35 of the agents scenario (agents-sim-seeds.ts says what they prove).

import { describe } from "vitest";
import { agentSeeds } from "./agents-sim-seeds.js";

describe("agents simulation: fixed seeds", () => agentSeeds(1, 35));
