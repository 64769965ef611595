// The member list of the open party: online dots, owner and admin badges
// and fingerprints. The owner may make and remove admins, hand the party
// over, remove members and lift bans; an admin may remove the members it
// let in. Anyone may write to another member directly ("Message"). Actions
// a user may not take are not offered.
import { ActionIcon, Avatar, Badge, Button, Group, Indicator, Menu, ScrollArea, Stack, Text } from "@mantine/core";
import { useState } from "react";
import { notifications } from "@mantine/notifications";
import { IconDots, IconMessage } from "@tabler/icons-react";
import { describe } from "../errors";
import { routes, type Party } from "../api";
import type { PartiesStore } from "./parties";
import type { Dialog } from "./ShellDialogs";
import { initials } from "./initials";

interface Props {
  party: Party;
  me: string;
  store: PartiesStore;
  setDialog: (d: Dialog) => void;
  /** Opens a path in the app. */
  go: (path: string) => void;
}

export function MemberList({ party, me, store, setDialog, go }: Props) {
  const isOwner = party.role === "owner";
  const [opening, setOpening] = useState("");
  // Write to a member directly: open (or find) the conversation and go there.
  const message = async (memberId: string) => {
    setOpening(memberId);
    try {
      const d = await routes.openDirect(memberId);
      await store.refresh(d.id);
      go(`/p/${d.id}/${d.topicId}`);
    } catch (e) {
      notifications.show({ color: "red", message: describe(e) });
    } finally {
      setOpening("");
    }
  };
  const nameOf = (id?: string) => {
    const m = party.members.find((x) => x.memberId === id);
    return m ? m.label || m.displayName : "a former admin";
  };
  return (
    <ScrollArea h="100%">
        <Stack gap="xs" p="sm" component="section" aria-label="Members">
          <Text size="xs" fw={700} c="dimmed" tt="uppercase">{party.direct ? "In this conversation" : `Members — ${party.members.length} / ${party.limits?.members ?? 10}`}</Text>
          {party.members.map((m) => (
            <Group key={m.memberId} justify="space-between" wrap="nowrap" data-testid="member">
              <Group gap="xs" wrap="nowrap" style={{ minWidth: 0 }}>
                <Indicator color={m.online ? "green" : "gray"} position="bottom-end" size={10} offset={4} withBorder
                  aria-label={m.online ? "online" : "offline"}>
                  <Avatar size="sm" radius="xl">{initials(m.displayName)}</Avatar>
                </Indicator>
                <Stack gap={0} style={{ minWidth: 0 }}>
                  <Group gap={4} wrap="nowrap">
                    <Text size="sm" truncate>{m.label || m.displayName}{m.memberId === me ? " (you)" : ""}</Text>
                    {m.role === "owner" && <Badge size="xs" variant="light" data-testid="owner-badge">owner</Badge>}
                    {m.role === "admin" && (
                      <Badge size="xs" variant="light" color="grape" data-testid="admin-badge"
                        title={`Can let ${m.freeSeats ?? 0} more people in`}>admin</Badge>
                    )}
                  </Group>
                  {m.admittedBy && <Text size="xs" c="dimmed" truncate>let in by {nameOf(m.admittedBy)}</Text>}
                  <Text size="xs" c="dimmed" ff="monospace" title="Member key fingerprint: compare it with the person to be sure who they are" data-testid="fingerprint">{m.fingerprint}</Text>
                  {m.keyFingerprint && (
                    <Text size="xs" c="dimmed" ff="monospace" title="Encryption key fingerprint: the key this party's messages are encrypted to for this member. Compare it with them out of band; a different one means someone else could read." data-testid="key-fingerprint">🔒 {m.keyFingerprint}</Text>
                  )}
                </Stack>
              </Group>
              {m.memberId !== me && !party.direct && (
                <Menu position="bottom-end" withinPortal>
                  <Menu.Target>
                    <ActionIcon variant="subtle" size="sm" aria-label={`Options for ${m.displayName}`} loading={opening === m.memberId}><IconDots size={14} /></ActionIcon>
                  </Menu.Target>
                  <Menu.Dropdown>
                    <Menu.Item leftSection={<IconMessage size={14} />} onClick={() => void message(m.memberId)}>Message</Menu.Item>
                    {isOwner && m.role === "member" && (
                      <Menu.Item onClick={() => setDialog({ kind: "admin", memberId: m.memberId, name: m.label || m.displayName, seats: 0, isAdmin: false })}>Make admin</Menu.Item>
                    )}
                    {isOwner && m.role === "admin" && (
                      <>
                        <Menu.Item onClick={() => setDialog({ kind: "admin", memberId: m.memberId, name: m.label || m.displayName, seats: m.seats ?? 0, isAdmin: true })}>Change seats</Menu.Item>
                        <Menu.Item onClick={() => setDialog({ kind: "removeAdmin", memberId: m.memberId, name: m.label || m.displayName })}>Remove admin</Menu.Item>
                      </>
                    )}
                    {isOwner && m.role !== "owner" && <Menu.Item onClick={() => setDialog({ kind: "transfer", memberId: m.memberId, name: m.label || m.displayName })}>Make owner</Menu.Item>}
                    {m.role !== "owner" && (isOwner || (party.role === "admin" && m.admittedBy === me && m.role !== "admin")) && (
                      <Menu.Item color="red" onClick={() => setDialog({ kind: "kick", memberId: m.memberId, name: m.label || m.displayName })}>Remove from party</Menu.Item>
                    )}
                  </Menu.Dropdown>
                </Menu>
              )}
            </Group>
          ))}
        </Stack>
        {isOwner && party.bans && party.bans.length > 0 && (
          <Stack gap="xs" p="sm" component="section" aria-label="Banned">
              <Text size="xs" fw={700} c="dimmed" tt="uppercase">Banned — can rejoin only when you lift the ban</Text>
              {party.bans.map((b) => (
                <Group key={b.memberId} justify="space-between" wrap="nowrap" data-testid="ban">
                  <Stack gap={0} style={{ minWidth: 0 }}>
                    <Text size="sm" truncate>{b.displayName}</Text>
                    <Text size="xs" c="dimmed" ff="monospace">{b.fingerprint}</Text>
                  </Stack>
                  <Button size="compact-xs" variant="subtle" onClick={async () => {
                    await routes.unban(party.id, b.memberId);
                    await store.refresh(party.id);
                  }}>Lift ban</Button>
                </Group>
              ))}
          </Stack>
        )}
      </ScrollArea>
  );
}
