// The parties store: the signed-in account's parties and direct
// conversations (as parties marked `direct`, which is how the node shows
// one) and unread counts, loaded once and kept current by the live
// connection's events.
import { useCallback, useEffect, useReducer, useRef } from "react";
import { notifications } from "@mantine/notifications";
import { routes, type Party } from "../api";
import { describe } from "../errors";
import type { Live, LiveEvent } from "../live";
import { mentionPattern, mentions, notify, notifyLevel } from "./mentions";

export interface PartiesState {
  /** null until the first load. */
  parties: Party[] | null;
  loadError: string | null;
  /** Unread messages by topic id. */
  unread: Record<string, number>;
  /** Unread messages that mention the account, by topic id. */
  mentioned: Record<string, number>;
}

export type PartiesAction =
  | { type: "loaded"; parties: Party[] }
  | { type: "loadFailed"; error: string }
  | { type: "put"; party: Party }
  | { type: "drop"; partyId: string }
  | { type: "presence"; partyId: string; memberId: string; online: boolean }
  | { type: "unread"; topicId: string; mention?: boolean }
  | { type: "read"; topicId: string };

export const initialParties: PartiesState = { parties: null, loadError: null, unread: {}, mentioned: {} };

/** The store's reducer: plain state in, plain state out. */
export function reduceParties(s: PartiesState, a: PartiesAction): PartiesState {
  switch (a.type) {
    case "loaded":
      return { ...s, parties: a.parties, loadError: null };
    case "loadFailed":
      return { ...s, loadError: a.error };
    case "put": {
      const list = s.parties ?? [];
      const i = list.findIndex((p) => p.id === a.party.id);
      const next = i < 0 ? [...list, a.party] : list.map((p, j) => (j === i ? a.party : p));
      return { ...s, parties: next };
    }
    case "drop":
      return s.parties ? { ...s, parties: s.parties.filter((p) => p.id !== a.partyId) } : s;
    case "presence":
      return s.parties
        ? {
            ...s,
            parties: s.parties.map((p) => p.id !== a.partyId ? p : {
              ...p, members: p.members.map((m) => (m.memberId === a.memberId ? { ...m, online: a.online } : m)),
            }),
          }
        : s;
    case "unread":
      return {
        ...s,
        unread: { ...s.unread, [a.topicId]: (s.unread[a.topicId] ?? 0) + 1 },
        mentioned: a.mention ? { ...s.mentioned, [a.topicId]: (s.mentioned[a.topicId] ?? 0) + 1 } : s.mentioned,
      };
    case "read":
      return s.unread[a.topicId] || s.mentioned[a.topicId] ? { ...s, unread: { ...s.unread, [a.topicId]: 0 }, mentioned: { ...s.mentioned, [a.topicId]: 0 } } : s;
  }
}

export interface PartiesStore extends PartiesState {
  /** Loads the whole list again. */
  reload: () => Promise<void>;
  /** Loads one party again (dropping it when it is gone). */
  refresh: (id: string) => Promise<void>;
  dispatch: (a: PartiesAction) => void;
}

/** The parties store of account `me`, fed by `live`. openTopic tells
 * which topic is on screen (its messages are not unread); onOpen opens a
 * path (a notification's click). */
export function useParties(live: Live, me: string, openTopic: () => string | undefined, onOpen: (path: string) => void): PartiesStore {
  const [state, dispatch] = useReducer(reduceParties, initialParties);
  const current = useRef(state);
  current.current = state;

  const reload = useCallback(async () => {
    try {
      const [{ parties }, { dms }] = await Promise.all([routes.parties(), routes.directs()]);
      // A direct conversation gone since it was listed is left out.
      const directs = await Promise.all((dms ?? []).map((d) => routes.party(d.id).catch(() => null)));
      dispatch({ type: "loaded", parties: [...(parties ?? []), ...directs.filter((d): d is Party => d !== null)] });
    } catch (e) {
      dispatch({ type: "loadFailed", error: describe(e) });
    }
  }, []);

  const refresh = useCallback(async (id: string) => {
    try {
      dispatch({ type: "put", party: await routes.party(id) });
    } catch {
      dispatch({ type: "drop", partyId: id }); // gone, or not ours any more
    }
  }, []);

  useEffect(() => {
    void reload();
    const name = (id: string) => current.current.parties?.find((p) => p.id === id);
    return live.subscribe((ev: LiveEvent) => {
      switch (ev.type) {
        case "resync":
          void reload();
          break;
        case "message.created": {
          if (ev.data.author.memberId === me) break;
          const mention = mentions(ev.data.body, me);
          const onScreen = ev.data.topicId === openTopic();
          if (!onScreen) dispatch({ type: "unread", topicId: ev.data.topicId, mention });
          const level = notifyLevel(me, ev.partyId);
          if (level === "all" || (level === "mentions" && mention)) {
            const p = name(ev.partyId);
            const nameOf = (id: string) => {
              const m = p?.members.find((x) => x.memberId === id);
              return m ? m.label || m.displayName : "someone";
            };
            const who = ev.data.author.label || ev.data.author.displayName;
            notify(p?.direct ? who : `${who} in ${p?.name ?? "a party"}`,
              ev.data.body.replace(mentionPattern, (_, id: string) => "@" + nameOf(id)), () => onOpen(`/p/${ev.partyId}/${ev.data.topicId}`));
          }
          break;
        }
        case "presence":
          dispatch({ type: "presence", partyId: ev.partyId, memberId: ev.data.memberId, online: ev.data.online });
          break;
        case "party.deleted": {
          const p = name(ev.partyId);
          if (p && p.role !== "owner") notifications.show({ color: "gray", message: `${p.name} was deleted by its owner.` });
          dispatch({ type: "drop", partyId: ev.partyId });
          break;
        }
        case "member.left":
          if (ev.data.memberId === me) {
            const p = name(ev.partyId);
            if (p && ev.data.kicked) notifications.show({ color: "orange", message: `You were removed from ${p.name}.` });
            dispatch({ type: "drop", partyId: ev.partyId });
          } else {
            void refresh(ev.partyId);
          }
          break;
        case "direct.opened":
        case "party.updated":
        case "topic.created":
        case "topic.renamed":
        case "topic.deleted":
        case "member.joined":
          void refresh(ev.partyId);
          break;
      }
    });
  }, [live, me, reload, refresh, openTopic, onOpen]);

  return { ...state, reload, refresh, dispatch };
}
