// Seeds 151-300 of the simulator (simulator-seeds.ts says what they prove).

import { describe } from "vitest";
import { simulatorSeeds } from "./simulator-seeds.js";

describe("simulator: fixed seeds", () => simulatorSeeds(151, 300));
