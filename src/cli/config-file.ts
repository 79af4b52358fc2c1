/** Reading the client config file from disk, for the parsers in src/config, which do no I/O themselves. */

import { readFileSync, statSync } from "node:fs";
import { CONFIG_FILE_BYTES_MAX, type ConfigFileReader } from "../config/client-file.js";
import type { ClientParseOptions } from "../config/client-options.js";

/** Reads a file from disk, refusing one larger than CONFIG_FILE_BYTES_MAX; null when there is none. */
export const readConfigFileFromDisk: ConfigFileReader = (path) => {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  if (size > CONFIG_FILE_BYTES_MAX) throw new Error(`it is larger than ${CONFIG_FILE_BYTES_MAX} bytes`);
  return readFileSync(path, "utf8");
};

/** How the client commands parse when run for real: with the config file read from disk. */
export const FROM_DISK: ClientParseOptions = { readFile: readConfigFileFromDisk };
