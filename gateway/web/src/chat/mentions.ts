// Mentions and notifications. A mention is stored in the body as
// <@memberId> and shown as the member's current name; the composer shows
// @Name while one writes. Desktop notifications follow a per-party
// setting kept in this browser (all / mentions / none), and are only asked
// for when the user turns them on, never on page load.

/** A mention in a stored body. */
export const mentionPattern = /<@([a-z0-9]{20,64})>/g;

export function mentions(body: string, member: string): boolean {
  for (const m of body.matchAll(mentionPattern)) if (m[1] === member) return true;
  return false;
}

export type NotifyLevel = "all" | "mentions" | "none";

const key = (account: string, party: string) => `chatterbox.notify.${account}.${party}`;

export function notifyLevel(account: string, party: string): NotifyLevel {
  const v = localStorage.getItem(key(account, party));
  return v === "all" || v === "none" ? v : "mentions";
}

export function setNotifyLevel(account: string, party: string, level: NotifyLevel) {
  localStorage.setItem(key(account, party), level);
}

/** Raises a desktop notification if the user allowed them and is not
 * looking at the page. */
export function notify(title: string, body: string, onClick: () => void) {
  if (typeof Notification === "undefined" || Notification.permission !== "granted") return;
  if (document.visibilityState === "visible" && document.hasFocus()) return;
  const n = new Notification(title, { body: body.slice(0, 140), tag: "chatterbox" });
  n.onclick = () => {
    window.focus();
    onClick();
    n.close();
  };
}

/** Replaces each @Label the composer inserted with its <@memberId>. */
export function encodeMentions(body: string, picked: Map<string, string>): string {
  let out = body;
  for (const [label, id] of picked) out = out.split("@" + label).join(`<@${id}>`);
  return out;
}
