// Proves the role table: what each route needs by default (reads reader, writes operator) and by
// declaration, which roles pass which requirement (admin over operator over reader; agents only
// where a route names their agent, and never on admin routes), and that an agent token acts only
// for its own agent, however many agents a request names.

import { describe, expect, it } from "vitest";
import {
  ROLE_TABLE,
  TOKEN_ROLES,
  agentRefusal,
  requiredRole,
  roleRefusal,
  type Principal,
  type RouteRole,
  type TokenRole,
} from "../../src/server/authorization.js";

const principal = (role: TokenRole, agentId: string | null = null): Principal => ({
  id: `id-${role}`,
  name: role,
  role,
  agentId,
});

describe("the role a route needs", () => {
  it("is reader for reads and operator for writes unless the route declares one", () => {
    expect(requiredRole("GET", {})).toBe("reader");
    expect(requiredRole("HEAD", {})).toBe("reader");
    for (const method of ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
      expect(requiredRole(method, {})).toBe("operator");
    expect(requiredRole("GET", { role: "admin" })).toBe("admin");
    expect(requiredRole("POST", { role: "reader" })).toBe("reader");
  });
});

describe("the role table", () => {
  // [role, reader route, operator route, admin route, agent-scoped operator route]
  const table: [TokenRole, boolean, boolean, boolean, boolean][] = [
    ["admin", true, true, true, true],
    ["operator", true, true, false, true],
    ["reader", true, false, false, false],
    ["agent", false, false, false, true],
  ];

  it("documents every role", () => {
    expect(Object.keys(ROLE_TABLE).sort()).toEqual([...TOKEN_ROLES].sort());
    expect(table.map(([role]) => role).sort()).toEqual([...TOKEN_ROLES].sort());
  });

  for (const [role, reads, writes, admin, agentScoped] of table) {
    it(`${role}: reads ${reads}, writes ${writes}, admin ${admin}, agent routes ${agentScoped}`, () => {
      const allowed = (required: RouteRole, scoped = false) =>
        roleRefusal(principal(role, role === "agent" ? "a" : null), required, scoped) === null;
      expect(allowed("reader")).toBe(reads);
      expect(allowed("operator")).toBe(writes);
      expect(allowed("admin")).toBe(admin);
      expect(allowed("operator", true)).toBe(agentScoped);
      // No token reaches an admin route by naming an agent.
      expect(allowed("admin", true)).toBe(admin);
    });
  }

  it("refuses with forbidden_role, naming what the route needs", () => {
    const refusal = roleRefusal(principal("reader"), "operator", false);
    expect(refusal?.code).toBe("forbidden_role");
    expect(refusal?.message).toContain("operator");
  });
});

describe("an agent token's agent", () => {
  it("must be every agent the request names, and a request that names none is refused", () => {
    expect(agentRefusal("a", "a")).toBeNull();
    expect(agentRefusal("a", ["a", "a"])).toBeNull();
    for (const ids of ["b", null, [], ["a", "b"], ["a", null]])
      expect(agentRefusal("a", ids)?.code, JSON.stringify(ids)).toBe("forbidden_agent");
    expect(agentRefusal(null, null)?.code).toBe("forbidden_agent");
  });
});
