// Seeds 1-150 of the simulator (simulator-seeds.ts says what they prove).

import { describe } from "vitest";
import { simulatorSeeds } from "./simulator-seeds.js";

describe("simulator: fixed seeds", () => simulatorSeeds(1, 150));
