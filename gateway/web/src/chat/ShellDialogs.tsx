// The dialogs of the main screen: create, rename, delete and leave a
// party; invite; create, rename and delete a topic; remove a member.
import { notifications } from "@mantine/notifications";
import { routes, type Party } from "../api";

/** How many parties one account may be in (the node's limit). */
const MAX_PARTIES = 10;
import { AdminDialog, AdmittersDialog, ConfirmDialog, InviteDialog, JoinLinkDialog, NameDialog, NotificationsDialog } from "./dialogs";
import type { PartiesStore } from "./parties";

/** Which dialog is open (null: none). */
export type Dialog =
  | { kind: "createParty" }
  | { kind: "renameParty" }
  | { kind: "deleteParty" }
  | { kind: "leaveParty" }
  | { kind: "invite" }
  | { kind: "createTopic" }
  | { kind: "renameTopic"; topicId: string; name: string }
  | { kind: "deleteTopic"; topicId: string; name: string }
  | { kind: "kick"; memberId: string; name: string }
  | { kind: "admin"; memberId: string; name: string; seats: number; isAdmin: boolean }
  | { kind: "removeAdmin"; memberId: string; name: string }
  | { kind: "transfer"; memberId: string; name: string }
  | { kind: "admitters" }
  | { kind: "notifications" }
  | { kind: "joinLink" }
  | { kind: "closeDirect" }
  | { kind: "newKey" }
  | null;

interface Props {
  dialog: Dialog;
  close: () => void;
  /** The party on screen, if any. */
  party: Party | null;
  store: PartiesStore;
  /** Opens a path in the app. */
  go: (path: string) => void;
  /** The signed-in account's member id. */
  me: string;
}

export function ShellDialogs({ dialog, close, party, store, go, me }: Props) {
  // Direct conversations are not parties and do not count.
  const partyCount = store.parties?.filter((p) => !p.direct).length ?? 0;
  return (
    <>
      <JoinLinkDialog opened={dialog?.kind === "joinLink"} onClose={close} onToken={(token) => go(`/join#${token}`)} />
      <NameDialog opened={dialog?.kind === "createParty"} title="Create a party" label="Party name" submitLabel="Create" onClose={close}
        note={`You are in ${partyCount} / ${MAX_PARTIES} parties.`}
        blocked={partyCount >= MAX_PARTIES ? "You are in the most parties allowed. Leave one to create another." : undefined}
        onSubmit={async (name) => {
          const p = await routes.createParty(name);
          store.dispatch({ type: "put", party: p });
          go(`/p/${p.id}` + (p.topics[0] ? `/${p.topics[0].id}` : ""));
        }} />
      <ConfirmDialog opened={dialog?.kind === "newKey"} title="Make a new encryption key?" confirmLabel="Make a new key" onClose={close}
        text="Your parties encrypt to the new key from now on and your key fingerprint changes: people who compared it with you will see a new one. Do it if you think someone else may have your old key."
        onConfirm={async () => {
          const r = await routes.rotateKey();
          notifications.show({ color: "green", autoClose: 8000, message: `New key ${r.keyFingerprint}, given to ${r.parties} ${r.parties === 1 ? "party" : "parties"}.` });
          if (party) await store.refresh(party.id);
        }} />
      {party && (
        <>
          <NameDialog opened={dialog?.kind === "renameParty"} title="Rename party" label="Party name" initial={party.name} submitLabel="Rename" onClose={close}
            onSubmit={async (name) => { await routes.renameParty(party.id, name); await store.refresh(party.id); }} />
          <ConfirmDialog opened={dialog?.kind === "deleteParty"} title={`Delete ${party.name}?`} confirmLabel="Delete party" onClose={close}
            text="The party, its topics and its messages go away for every member. This cannot be undone."
            onConfirm={async () => { await routes.deleteParty(party.id); store.dispatch({ type: "drop", partyId: party.id }); }} />
          <ConfirmDialog opened={dialog?.kind === "leaveParty"} title={`Leave ${party.name}?`} confirmLabel="Leave party" onClose={close}
            text="You will stop receiving its messages. You need a new invite to come back."
            onConfirm={async () => { await routes.leaveParty(party.id); store.dispatch({ type: "drop", partyId: party.id }); }} />
          <ConfirmDialog opened={dialog?.kind === "closeDirect"} title={`Close the conversation with ${party.name}?`} confirmLabel="Close" onClose={close}
            text="It leaves your list; nothing is deleted. It comes back when you write to them again, or when they write to you."
            onConfirm={async () => { await routes.closeDirect(party.id); store.dispatch({ type: "drop", partyId: party.id }); go("/"); }} />
          <InviteDialog opened={dialog?.kind === "invite"} partyId={party.id} partyName={party.name} onClose={close} />
          <NameDialog opened={dialog?.kind === "createTopic"} title="Create a topic" label="Topic name" submitLabel="Create" onClose={close}
            note={`This party has ${party.topics.length} / ${party.limits?.topics ?? 10} topics.`}
            blocked={party.topics.length >= (party.limits?.topics ?? 10) ? "This party has the most topics allowed. Delete one to add another." : undefined}
            onSubmit={async (name) => { const t = await routes.createTopic(party.id, name); await store.refresh(party.id); go(`/p/${party.id}/${t.id}`); }} />
          <NameDialog opened={dialog?.kind === "renameTopic"} title="Rename topic" label="Topic name" submitLabel="Rename" onClose={close}
            initial={dialog?.kind === "renameTopic" ? dialog.name : ""}
            onSubmit={async (name) => { if (dialog?.kind === "renameTopic") await routes.renameTopic(party.id, dialog.topicId, name); await store.refresh(party.id); }} />
          <ConfirmDialog opened={dialog?.kind === "deleteTopic"} title={`Delete #${dialog?.kind === "deleteTopic" ? dialog.name : ""}?`} confirmLabel="Delete topic" onClose={close}
            text="The topic and its messages go away for every member."
            onConfirm={async () => { if (dialog?.kind === "deleteTopic") await routes.deleteTopic(party.id, dialog.topicId); await store.refresh(party.id); }} />
          <ConfirmDialog opened={dialog?.kind === "kick"} title={`Remove ${dialog?.kind === "kick" ? dialog.name : ""}?`} confirmLabel="Remove" onClose={close}
            text="They stop receiving this party's messages and need a new invite to come back."
            onConfirm={async () => { if (dialog?.kind === "kick") await routes.kick(party.id, dialog.memberId); await store.refresh(party.id); }} />
          <AdminDialog opened={dialog?.kind === "admin"} party={party} onClose={close}
            member={dialog?.kind === "admin" ? dialog : null}
            onSubmit={async (seats) => {
              if (dialog?.kind === "admin") store.dispatch({ type: "put", party: await routes.setAdmin(party.id, dialog.memberId, seats) });
            }} />
          <ConfirmDialog opened={dialog?.kind === "removeAdmin"} title={`Remove ${dialog?.kind === "removeAdmin" ? dialog.name : ""} as admin?`}
            confirmLabel="Remove admin" onClose={close}
            text="They stay a member. Their free seats come back to you, and anyone they let in that your node has not heard of yet will not get in."
            onConfirm={async () => {
              if (dialog?.kind === "removeAdmin") store.dispatch({ type: "put", party: await routes.removeAdmin(party.id, dialog.memberId) });
            }} />
          <ConfirmDialog opened={dialog?.kind === "transfer"} title={`Make ${dialog?.kind === "transfer" ? dialog.name : ""} the owner?`}
            confirmLabel="Hand over" onClose={close}
            text="Their node runs the party from now on and they can do everything you can. You stay a member and cannot undo this yourself."
            onConfirm={async () => {
              if (dialog?.kind === "transfer") store.dispatch({ type: "put", party: await routes.transfer(party.id, dialog.memberId) });
            }} />
          <AdmittersDialog opened={dialog?.kind === "admitters"} party={party} onClose={close} />
          <NotificationsDialog opened={dialog?.kind === "notifications"} party={party} me={me} onClose={close} />
        </>
      )}
    </>
  );
}
