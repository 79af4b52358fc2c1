/** The access module's replicated half: commands, snapshot section, error codes, the audit hook. */

import type { StateModule } from "../control/index.js";
import { createTokenCommand, recordAudited, recordCommand, revokeTokenCommand } from "./commands.js";
import { accessSection, type AccessState } from "./state.js";

/** Access: API tokens (digests) and the audit log. No projected tables: both live in snapshots. */
export const accessState: StateModule<AccessState> = {
  name: "access",
  commands: [createTokenCommand, revokeTokenCommand, recordCommand],
  section: accessSection,
  onAudited: (state, event, context) => {
    recordAudited(state, event, context.index, context.timestamp);
    return [];
  },
  errors: {
    token_not_found: 404,
    token_name_taken: 409,
    token_in_file: 409,
    conflict: 409,
    limit_exceeded: 422,
  },
};
