// Sentences for every error code the node's API can answer. The node sends
// its own sentence with each error and the app shows that; these are for
// when it cannot (no connection, an old node, a proxy's page).
const sentences: Record<string, string> = {
  network: "Cannot reach your ChatterBox node. Check that it is running, then try again.",
  already_member: "You are a member of this party already.",
  bad_host: "This page was opened under an address the node does not answer to. Open it from localhost.",
  bad_json: "The app sent a request the node did not understand. Reload the page and try again.",
  bad_origin: "The node refused a request from another site.",
  bad_request: "The request is malformed.",
  bad_websocket: "The live connection to your node could not start. Reload the page.",
  body_too_large: "That is too large to send.",
  cursor_invalid: "The message history moved on. Reload to see the newest messages.",
  email_taken: "An account with this email already exists. Sign in instead.",
  internal_error: "Something went wrong on your node. Details are in its log.",
  invalid_credentials: "The email or password is wrong.",
  invalid_display_name: "A display name must be 1 to 64 printable characters.",
  invalid_email: "That does not look like an email address.",
  invalid_token: "Your session has ended. Sign in again.",
  invite_expired: "This invite has expired. Ask for a new one.",
  invite_invalid: "This invite link is not valid. Ask for a new one.",
  invite_options_invalid: "An invite lasts from 1 minute to 30 days and allows up to 1000 uses (0 means no limit).",
  invite_revoked: "This invite was revoked by the party owner.",
  invite_used_up: "This invite has been used as many times as allowed.",
  limit_invalid: "The app asked for a page size the node does not allow.",
  message_deleted: "That message was deleted.",
  message_empty: "Write something first: the message is empty.",
  message_invalid: "The message is not valid.",
  message_too_long: "The message is too long: at most 4000 characters.",
  method_not_allowed: "The node does not allow that here.",
  name_invalid: "A name must be 1 to 64 printable characters.",
  not_author: "You can only change your own messages.",
  not_found: "There is no such party, topic, member or invite here.",
  not_member: "You are not a member of this party.",
  not_owner: "Only the party's owner can do that.",
  not_owner_node: "This node does not host the party's owner.",
  not_ready: "Your node is starting or stopping. Try again in a moment.",
  already_verified: "Your email is verified already.",
  oauth_provider_unknown: "Signing in with that provider is not enabled on this node.",
  oauth_state: "The sign-in expired or did not start in this browser. Try again.",
  oauth_denied: "Signing in was cancelled at the provider.",
  oauth_failed: "The provider did not accept the sign-in. Try again, or use your email and password.",
  oauth_unavailable: "The provider cannot be reached right now. Try again later.",
  oauth_email_unverified: "Your account at the provider has no verified email address. Verify one there, then try again.",
  op_invalid: "That change is not valid for this party.",
  owner_cannot_leave: "The owner cannot leave or be removed. Delete the party instead.",
  owner_unreachable: "The party owner's node cannot be reached right now.",
  party_frozen: "This party's history has a conflict, so new members cannot join until it is repaired.",
  party_full: "This party is full: it already has the most members allowed.",
  party_limit: "You are in 10 parties already. Leave one to join or create another.",
  refresh_reused: "This sign-in was used from somewhere else and has been ended for safety. Sign in again.",
  request_replayed: "This join request was already used. Accept the invite again.",
  banned: "You were removed from this party and cannot join it again unless its owner lifts the ban.",
  token_expired: "This link has expired. Ask for a new one.",
  token_invalid: "This link is not valid or was used already.",
  too_many_attempts: "Too many attempts. Wait a little, then try again.",
  topic_limit: "This party has the most topics allowed. Delete one to add another.",
  unauthorized: "Sign in first.",
  unsupported_media_type: "The app sent a request the node did not understand. Reload the page and try again.",
  weak_password: "Choose a stronger password.",
};

/** A sentence for people for an error code; never the raw code. */
export function sentenceFor(code: string): string {
  return sentences[code] ?? "Something went wrong. Try again, and if it keeps happening, check your node's log.";
}

/** The sentence for any thrown value. */
export function describe(err: unknown): string {
  if (err && typeof err === "object" && "message" in err && typeof (err as Error).message === "string") {
    const m = (err as Error).message;
    if (m) return m;
  }
  return sentenceFor("");
}

export const knownCodes = Object.keys(sentences);
