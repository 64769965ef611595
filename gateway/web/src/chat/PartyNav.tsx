// The navigation column: the rail of parties, the open party's topics,
// the direct conversations, and the signed-in account with its sign-out
// button.
import { ActionIcon, Avatar, useMantineColorScheme, Button, Group, Indicator, Menu, NavLink, ScrollArea, Stack, Text, Title, Tooltip, UnstyledButton } from "@mantine/core";
import { IconDeviceDesktop, IconDots, IconDownload, IconHash, IconKey, IconLink, IconLogout, IconMoon, IconPlus, IconSearch, IconServer, IconSun, IconUserPlus } from "@tabler/icons-react";
import { notifications } from "@mantine/notifications";
import { saveExport, type Account, type Party, type Topic } from "../api";
import type { Dialog } from "./ShellDialogs";
import { initials } from "./initials";
import { describe, sentenceFor } from "../errors";

/** The sentence for an error code a party view carries. */
function describeCode(code?: string): string {
  return code ? sentenceFor(code) : "You were not let in.";
}

interface Props {
  me: Account;
  parties: Party[] | null;
  party: Party | null;
  topic: Topic | null;
  unread: Record<string, number>;
  mentioned: Record<string, number>;
  setDialog: (d: Dialog) => void;
  go: (path: string) => void;
  signOut: () => Promise<void>;
  openSearch: () => void;
}

export function PartyNav({ me, parties, party, topic, unread, mentioned, setDialog, go, signOut, openSearch }: Props) {
  const isOwner = party?.role === "owner";
  // The owner and admins invite people and manage topics.
  const canManage = isOwner || party?.role === "admin";
  const active = party?.status === "active" || party?.status === "frozen";
  const partyUnread = (p: Party) => p.topics.some((t) => (unread[t.id] ?? 0) > 0);
  const direct = party?.direct === true;
  const directs = (parties ?? []).filter((p) => p.direct);
  return (
    <Group h="100%" gap={0} align="stretch" wrap="nowrap">
      <nav aria-label="Parties" className="rail">
        <ScrollArea h="100%" type="never">
          <Stack gap="sm" align="center" py="sm">
            <Tooltip label="Search messages (Ctrl+K)" position="right" withArrow>
              <ActionIcon size={44} radius="xl" variant="subtle" onClick={openSearch} aria-label="Search messages">
                <IconSearch size={22} />
              </ActionIcon>
            </Tooltip>
            {(parties ?? []).filter((p) => !p.direct).map((p) => (
              <Tooltip key={p.id} label={p.name + (p.status === "pending" ? " (waiting to be let in)" : p.status === "undone" ? " (not admitted)" : "")} position="right" withArrow>
                <Indicator disabled={!partyUnread(p)} color="red" size={10} offset={4} label="">
                  <UnstyledButton
                    onClick={() => go(`/p/${p.id}`)}
                    aria-label={p.name + (partyUnread(p) ? ", unread messages" : "")}
                    aria-current={p.id === party?.id ? "page" : undefined}
                    className="rail-item"
                    data-active={p.id === party?.id || undefined}
                    data-pending={p.status === "pending" || p.status === "undone" || undefined}
                  >
                    {initials(p.name)}
                  </UnstyledButton>
                </Indicator>
              </Tooltip>
            ))}
            <Tooltip label="Create a party" position="right" withArrow>
              <ActionIcon size={44} radius="xl" variant="light" onClick={() => setDialog({ kind: "createParty" })} aria-label="Create a party">
                <IconPlus size={22} />
              </ActionIcon>
            </Tooltip>
            <Tooltip label="Join with an invite link" position="right" withArrow>
              <ActionIcon size={44} radius="xl" variant="subtle" onClick={() => setDialog({ kind: "joinLink" })} aria-label="Join with an invite link">
                <IconLink size={22} />
              </ActionIcon>
            </Tooltip>
          </Stack>
        </ScrollArea>
      </nav>

      <Stack gap={0} style={{ flex: 1, minWidth: 0 }}>
        <Group justify="space-between" p="sm" wrap="nowrap" className="pane-head">
          <Title order={2} size="h5" lineClamp={1} data-testid="party-name">{party ? (direct ? `@${party.name}` : party.name) : "No party yet"}</Title>
          {party && direct && (
            <Menu position="bottom-end" withinPortal>
              <Menu.Target>
                <ActionIcon variant="subtle" aria-label="Conversation options"><IconDots size={18} /></ActionIcon>
              </Menu.Target>
              <Menu.Dropdown>
                <Menu.Item onClick={() => setDialog({ kind: "notifications" })}>Notifications</Menu.Item>
                <Menu.Item leftSection={<IconDownload size={16} />} onClick={() => exportArchive(party.id)}>Export conversation</Menu.Item>
                <Menu.Item color="red" onClick={() => setDialog({ kind: "closeDirect" })}>Close conversation</Menu.Item>
              </Menu.Dropdown>
            </Menu>
          )}
          {party && !direct && (
            <Menu position="bottom-end" withinPortal>
              <Menu.Target>
                <ActionIcon variant="subtle" aria-label="Party options"><IconDots size={18} /></ActionIcon>
              </Menu.Target>
              <Menu.Dropdown>
                {canManage && <Menu.Item leftSection={<IconUserPlus size={16} />} onClick={() => setDialog({ kind: "invite" })}>Invite people</Menu.Item>}
                {active && <Menu.Item onClick={() => setDialog({ kind: "admitters" })}>Who can let people in</Menu.Item>}
                {active && <Menu.Item onClick={() => setDialog({ kind: "notifications" })}>Notifications</Menu.Item>}
                {canManage && <Menu.Item onClick={() => setDialog({ kind: "createTopic" })}>Create topic</Menu.Item>}
                {active && <Menu.Item leftSection={<IconDownload size={16} />} onClick={() => exportArchive(party.id)}>Export party</Menu.Item>}
                {isOwner && <Menu.Item onClick={() => setDialog({ kind: "renameParty" })}>Rename party</Menu.Item>}
                {isOwner && <Menu.Item color="red" onClick={() => setDialog({ kind: "deleteParty" })}>Delete party</Menu.Item>}
                {!isOwner && <Menu.Item color="red" onClick={() => setDialog({ kind: "leaveParty" })}>
                  {party.status === "undone" ? "Dismiss" : party.status === "pending" ? "Cancel joining" : "Leave party"}
                </Menu.Item>}
              </Menu.Dropdown>
            </Menu>
          )}
        </Group>
        <ScrollArea style={{ flex: 1 }}>
          <nav aria-label="Topics">
            <Stack gap={2} p="xs">
              {party?.status === "pending" && (
                <Text size="sm" c="dimmed" p="xs">Waiting for the node that issued your invite to let you in. This updates by itself.</Text>
              )}
              {party?.status === "undone" && (
                <Text size="sm" c="red" p="xs" role="alert" data-testid="undone">
                  {describeCode(party.lastError)} You can dismiss this from the party menu.
                </Text>
              )}
              {!direct && party?.topics.map((t) => (
                <Group key={t.id} gap={0} wrap="nowrap" className="topic-row">
                  <NavLink
                    component="button"
                    label={t.name}
                    leftSection={<IconHash size={16} />}
                    active={t.id === topic?.id}
                    onClick={() => go(`/p/${party.id}/${t.id}`)}
                    aria-current={t.id === topic?.id ? "page" : undefined}
                    rightSection={(unread[t.id] ?? 0) > 0 ? (
                      <Group gap={4} wrap="nowrap">
                        {(mentioned[t.id] ?? 0) > 0 && (
                          <span className="unread mention-count" aria-label={`${mentioned[t.id]} ${mentioned[t.id] === 1 ? "mention" : "mentions"} of you`} data-testid="mention-count">{`@${mentioned[t.id]}`}</span>
                        )}
                        <span className="unread" aria-label={`${unread[t.id]} unread`}>{unread[t.id]}</span>
                      </Group>
                    ) : null}
                    fw={(unread[t.id] ?? 0) > 0 ? 700 : undefined}
                  />
                  {canManage && (
                    <Menu position="bottom-end" withinPortal>
                      <Menu.Target>
                        <ActionIcon variant="subtle" size="sm" aria-label={`Options for topic ${t.name}`}><IconDots size={14} /></ActionIcon>
                      </Menu.Target>
                      <Menu.Dropdown>
                        <Menu.Item onClick={() => setDialog({ kind: "renameTopic", topicId: t.id, name: t.name })}>Rename topic</Menu.Item>
                        <Menu.Item color="red" onClick={() => setDialog({ kind: "deleteTopic", topicId: t.id, name: t.name })}>Delete topic</Menu.Item>
                      </Menu.Dropdown>
                    </Menu>
                  )}
                </Group>
              ))}
              {canManage && party && (
                <Button variant="subtle" size="xs" leftSection={<IconPlus size={14} />} justify="flex-start" onClick={() => setDialog({ kind: "createTopic" })}>
                  Add topic
                </Button>
              )}
            </Stack>
          </nav>
          <nav aria-label="Direct messages">
            <Stack gap={2} p="xs">
              <Text size="xs" fw={700} c="dimmed" tt="uppercase" px="xs">Direct messages</Text>
              {directs.length === 0 && (
                <Text size="xs" c="dimmed" px="xs">To write to someone alone, open their menu in a party's member list and choose Message.</Text>
              )}
              {directs.map((d) => {
                const t = d.topics[0];
                const n = t ? unread[t.id] ?? 0 : 0;
                const other = d.members.find((m) => m.memberId !== me.memberId);
                return (
                  <NavLink
                    key={d.id}
                    component="button"
                    label={d.name}
                    leftSection={
                      <Indicator color={other?.online ? "green" : "gray"} position="bottom-end" size={8} offset={3} withBorder>
                        <Avatar size="xs" radius="xl">{initials(d.name)}</Avatar>
                      </Indicator>
                    }
                    active={d.id === party?.id}
                    aria-current={d.id === party?.id ? "page" : undefined}
                    onClick={() => go(`/p/${d.id}` + (t ? `/${t.id}` : ""))}
                    rightSection={n > 0 ? <span className="unread" aria-label={`${n} unread`}>{n}</span> : null}
                    fw={n > 0 ? 700 : undefined}
                    data-testid="direct"
                  />
                );
              })}
            </Stack>
          </nav>
        </ScrollArea>
        <Group p="sm" justify="space-between" wrap="nowrap" className="pane-foot">
          <Group gap="xs" wrap="nowrap" style={{ minWidth: 0 }}>
            <Avatar size="sm" color="indigo">{initials(me.displayName)}</Avatar>
            <Stack gap={0} style={{ minWidth: 0 }}>
              <Text size="sm" fw={600} truncate data-testid="me">{me.displayName}</Text>
              <Text size="xs" c="dimmed" truncate>{me.email}</Text>
            </Stack>
          </Group>
          <Group gap={0} wrap="nowrap">
            <ColorSchemeToggle />
            <Tooltip label="Export all my messages">
              <ActionIcon variant="subtle" onClick={() => exportArchive()} aria-label="Export all my messages"><IconDownload size={18} /></ActionIcon>
            </Tooltip>
            <Tooltip label="New encryption key">
              <ActionIcon variant="subtle" onClick={() => setDialog({ kind: "newKey" })} aria-label="New encryption key"><IconKey size={18} /></ActionIcon>
            </Tooltip>
            <Tooltip label="Node status">
              <ActionIcon variant="subtle" onClick={() => go("/node")} aria-label="Node status"><IconServer size={18} /></ActionIcon>
            </Tooltip>
            <Tooltip label="Sign out">
              <ActionIcon variant="subtle" onClick={() => void signOut()} aria-label="Sign out"><IconLogout size={18} /></ActionIcon>
            </Tooltip>
          </Group>
        </Group>
      </Stack>
    </Group>
  );
}

/** Saves an export archive, saying so, or why it failed. */
async function exportArchive(partyId?: string) {
  const id = notifications.show({ loading: true, message: "Preparing the export…", autoClose: false });
  try {
    await saveExport(partyId);
    notifications.update({ id, loading: false, color: "green", message: "Export saved to your downloads.", autoClose: 4000 });
  } catch (e) {
    notifications.update({ id, loading: false, color: "red", message: describe(e), autoClose: 8000 });
  }
}

/** Cycles the color scheme: as the system, light, dark (kept in this
 * browser by Mantine's color scheme manager). */
function ColorSchemeToggle() {
  const { colorScheme, setColorScheme } = useMantineColorScheme();
  const next = colorScheme === "auto" ? "light" : colorScheme === "light" ? "dark" : "auto";
  const label = { auto: "Colors: as the system", light: "Colors: light", dark: "Colors: dark" }[colorScheme];
  const Icon = { auto: IconDeviceDesktop, light: IconSun, dark: IconMoon }[colorScheme];
  return (
    <Tooltip label={`${label} (click for ${next})`}>
      <ActionIcon variant="subtle" onClick={() => setColorScheme(next)} aria-label={label} data-testid="color-scheme" data-scheme={colorScheme}>
        <Icon size={18} />
      </ActionIcon>
    </Tooltip>
  );
}
