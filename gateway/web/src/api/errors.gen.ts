// Generated from gateway/errors.go by `go generate ./gateway`. Do not edit.

export type ErrorCode =
  | "account_not_found"
  | "admin_not_found"
  | "admin_revoked"
  | "already_member"
  | "already_owner"
  | "already_verified"
  | "bad_host"
  | "bad_json"
  | "bad_origin"
  | "bad_request"
  | "bad_websocket"
  | "ban_not_found"
  | "banned"
  | "body_too_large"
  | "cursor_invalid"
  | "direct_conversation"
  | "direct_not_allowed"
  | "email_taken"
  | "emoji_invalid"
  | "encryption_key_limit"
  | "file_invalid"
  | "file_not_found"
  | "file_too_large"
  | "file_too_many"
  | "file_unavailable"
  | "internal_error"
  | "invalid_credentials"
  | "invalid_display_name"
  | "invalid_email"
  | "invalid_token"
  | "invite_expired"
  | "invite_invalid"
  | "invite_not_found"
  | "invite_options_invalid"
  | "invite_revoked"
  | "invite_used_up"
  | "key_pending"
  | "limit_invalid"
  | "member_not_found"
  | "message_deleted"
  | "message_empty"
  | "message_invalid"
  | "message_not_found"
  | "message_too_long"
  | "method_not_allowed"
  | "name_invalid"
  | "no_free_seat"
  | "not_author"
  | "not_found"
  | "not_member"
  | "not_owner"
  | "not_owner_node"
  | "not_ready"
  | "oauth_denied"
  | "oauth_email_unverified"
  | "oauth_failed"
  | "oauth_provider_unknown"
  | "oauth_state"
  | "oauth_unavailable"
  | "op_invalid"
  | "owner_cannot_leave"
  | "owner_not_admin"
  | "owner_unreachable"
  | "party_frozen"
  | "party_full"
  | "party_limit"
  | "party_not_found"
  | "reaction_limit"
  | "refresh_reused"
  | "remote_failed"
  | "request_replayed"
  | "search_invalid"
  | "seat_reclaimed"
  | "token_expired"
  | "token_invalid"
  | "too_many_attempts"
  | "topic_limit"
  | "topic_not_found"
  | "unauthorized"
  | "unsupported_media_type"
  | "weak_password";

/** Each error code's HTTP status and the sentence a user is shown. */
export const errorTable: Record<ErrorCode, { status: number; message: string }> = {
  account_not_found: { status: 404, message: "There is no such account here." },
  admin_not_found: { status: 404, message: "That member is not an admin of this party." },
  admin_revoked: { status: 409, message: "The admin who let you in was no longer an admin, so your admission did not hold. Ask for a new invite." },
  already_member: { status: 409, message: "You are a member of this party already." },
  already_owner: { status: 409, message: "That member owns the party already." },
  already_verified: { status: 409, message: "Your email is verified already." },
  bad_host: { status: 421, message: "This node only answers requests addressed to localhost or its IP address." },
  bad_json: { status: 400, message: "The request body is not the JSON this address expects." },
  bad_origin: { status: 403, message: "Cross-site requests may not change anything on this node." },
  bad_request: { status: 400, message: "The request is malformed." },
  bad_websocket: { status: 400, message: "The WebSocket upgrade was refused." },
  ban_not_found: { status: 404, message: "That member is not banned from this party." },
  banned: { status: 403, message: "You were removed from this party and cannot join it again unless its owner lifts the ban." },
  body_too_large: { status: 413, message: "The request body is too large." },
  cursor_invalid: { status: 400, message: "The page cursor is not valid. Start again from the newest messages." },
  direct_conversation: { status: 409, message: "A direct conversation has no invites, topics or roles to change." },
  direct_not_allowed: { status: 403, message: "You can write directly only to someone who is in a party with you." },
  email_taken: { status: 409, message: "An account with this email already exists. Sign in instead." },
  emoji_invalid: { status: 422, message: "A reaction is one emoji." },
  encryption_key_limit: { status: 409, message: "This account has made a new encryption key as often as allowed (100 times)." },
  file_invalid: { status: 422, message: "That file cannot be attached." },
  file_not_found: { status: 404, message: "There is no such file here." },
  file_too_large: { status: 413, message: "That file is too large: a file is at most 25 MiB." },
  file_too_many: { status: 422, message: "A message carries at most 8 files." },
  file_unavailable: { status: 503, message: "No one who has this file is online right now. Try again later." },
  internal_error: { status: 500, message: "Something went wrong on this node. Details are in its log." },
  invalid_credentials: { status: 401, message: "The email or password is wrong." },
  invalid_display_name: { status: 422, message: "A display name must be 1 to 64 printable characters." },
  invalid_email: { status: 422, message: "That does not look like an email address." },
  invalid_token: { status: 401, message: "Your session has ended. Sign in again." },
  invite_expired: { status: 410, message: "This invite has expired. Ask for a new one." },
  invite_invalid: { status: 422, message: "This invite link is not valid. Ask for a new one." },
  invite_not_found: { status: 404, message: "There is no such invite for this party." },
  invite_options_invalid: { status: 422, message: "An invite lasts from 1 minute to 30 days and allows up to 1000 uses (0 means no limit)." },
  invite_revoked: { status: 410, message: "This invite was revoked." },
  invite_used_up: { status: 410, message: "This invite has been used as many times as allowed." },
  key_pending: { status: 503, message: "This party's encryption key has not reached your node yet. Try again in a moment." },
  limit_invalid: { status: 400, message: "limit must be a number from 1 to 100." },
  member_not_found: { status: 404, message: "There is no such member in this party." },
  message_deleted: { status: 410, message: "That message was deleted." },
  message_empty: { status: 422, message: "Write something first: the message is empty." },
  message_invalid: { status: 422, message: "The message is not valid." },
  message_not_found: { status: 404, message: "There is no such message in this topic." },
  message_too_long: { status: 422, message: "The message is too long: at most 4000 characters." },
  method_not_allowed: { status: 405, message: "This address does not accept that method." },
  name_invalid: { status: 422, message: "A name must be 1 to 64 printable characters." },
  no_free_seat: { status: 409, message: "There is no free seat for that: the party is full, or its free seats are given to admins." },
  not_author: { status: 403, message: "You can only change your own messages." },
  not_found: { status: 404, message: "There is nothing at this address." },
  not_member: { status: 403, message: "You are not a member of this party." },
  not_owner: { status: 403, message: "Only the party's owner can do that (an admin may also invite people, manage topics and remove the people they let in)." },
  not_owner_node: { status: 409, message: "This node does not sequence that party's changes." },
  not_ready: { status: 503, message: "The node is starting or stopping." },
  oauth_denied: { status: 403, message: "Signing in was cancelled at the provider." },
  oauth_email_unverified: { status: 403, message: "Your account at the provider has no verified email address. Verify one there, then try again." },
  oauth_failed: { status: 502, message: "The provider did not accept the sign-in. Try again." },
  oauth_provider_unknown: { status: 404, message: "Signing in with that provider is not enabled on this node." },
  oauth_state: { status: 400, message: "The sign-in expired or did not start in this browser. Try again." },
  oauth_unavailable: { status: 503, message: "The provider cannot be reached right now. Try again later." },
  op_invalid: { status: 422, message: "That change is not valid for this party." },
  owner_cannot_leave: { status: 409, message: "The owner cannot leave or be removed. Delete the party instead." },
  owner_not_admin: { status: 422, message: "The owner can do everything already; make another member an admin." },
  owner_unreachable: { status: 503, message: "The party owner's node cannot be reached right now." },
  party_frozen: { status: 409, message: "This party's history has a conflict, so new members cannot join until it is repaired." },
  party_full: { status: 409, message: "This party is full: it already has the most members allowed." },
  party_limit: { status: 409, message: "You are in 10 parties already. Leave one to join or create another." },
  party_not_found: { status: 404, message: "There is no such party here." },
  reaction_limit: { status: 409, message: "You have reacted with 20 different emoji on this message already; take one back first." },
  refresh_reused: { status: 401, message: "This sign-in was used from somewhere else and has been ended for safety. Sign in again." },
  remote_failed: { status: 502, message: "The other node failed to answer properly." },
  request_replayed: { status: 409, message: "This join request was already used. Accept the invite again." },
  search_invalid: { status: 400, message: "This search cannot be run." },
  seat_reclaimed: { status: 409, message: "The admin who let you in had just been asked by the owner to give that seat back, so your admission did not hold. Ask for a new invite." },
  token_expired: { status: 410, message: "This link has expired. Ask for a new one." },
  token_invalid: { status: 400, message: "This link is not valid or was used already. Ask for a new one." },
  too_many_attempts: { status: 429, message: "Too many failed sign-in attempts. Wait a little and try again." },
  topic_limit: { status: 409, message: "This party has the most topics allowed. Delete one to add another." },
  topic_not_found: { status: 404, message: "There is no such topic in this party." },
  unauthorized: { status: 401, message: "Sign in first: this request needs an access token." },
  unsupported_media_type: { status: 415, message: "Send the request body as JSON with Content-Type: application/json." },
  weak_password: { status: 422, message: "Choose a stronger password." },
};
