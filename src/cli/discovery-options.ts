/** The discovery provider a node's settings ask for (SERVICE_DISCOVERY_TYPE and its companions). */

import type { NodeConfig } from "../config/index.js";
import type { DiscoveryOptions } from "../discovery/index.js";

/** The provider options for `config`; `custom` needs none (agents register themselves). */
export function discoveryOptions(config: NodeConfig): DiscoveryOptions {
  const names = config.discoveryNames
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name.length > 0);
  const defaults = { team: config.discoveryTeam, skills: [], capacity: 1 };
  switch (config.serviceDiscoveryType) {
    case "custom":
      return { type: "custom" };
    case "dns":
      return {
        type: "dns",
        names,
        server: config.discoveryDnsServer === "" ? null : config.discoveryDnsServer,
        defaults,
      };
    case "consul":
      return { type: "consul", endpoint: config.consulEndpoint, services: names, defaults };
    case "kubernetes": {
      // "namespace/name" names the namespace (one for all); a bare name is in the pod's own.
      const namespace = names.find((name) => name.includes("/"))?.split("/")[0];
      const services = names.map((name) => name.slice(name.indexOf("/") + 1));
      return { type: "kubernetes", services, defaults, ...(namespace === undefined ? {} : { namespace }) };
    }
  }
}
