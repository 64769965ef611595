// The main screen: a rail of parties, the party's topics, the message pane
// and the member list with online dots.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Navigate, useNavigate, useParams } from "react-router-dom";
import {
  ActionIcon, Alert, AppShell, Avatar, Badge, Burger, Button, Center, Group, Indicator, Loader, Menu, NavLink, ScrollArea, Stack, Text,
  Title, Tooltip, UnstyledButton,
} from "@mantine/core";
import { useDisclosure, useMediaQuery } from "@mantine/hooks";
import { notifications } from "@mantine/notifications";
import {
  IconDots, IconHash, IconLogout, IconMailExclamation, IconPlus, IconUserPlus, IconUsers, IconWifiOff,
} from "@tabler/icons-react";
import { routes, type Party } from "../api";
import { useAuth } from "../auth";
import { describe } from "../errors";
import { Live, type LiveEvent, type LiveStatus } from "../live";
import { clearNext } from "../next";
import { ConfirmDialog, InviteDialog, NameDialog } from "./dialogs";
import { MessagePane } from "./Messages";

type Dialog =
  | { kind: "createParty" }
  | { kind: "renameParty" }
  | { kind: "deleteParty" }
  | { kind: "leaveParty" }
  | { kind: "invite" }
  | { kind: "createTopic" }
  | { kind: "renameTopic"; topicId: string; name: string }
  | { kind: "deleteTopic"; topicId: string; name: string }
  | { kind: "kick"; memberId: string; name: string }
  | null;

function initials(name: string) {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0]!.toUpperCase()).join("") || "?";
}

export function Shell() {
  const { account, state, signOut } = useAuth();
  if (state.status === "loading") return <Center mih="100vh"><Loader aria-label="Loading" /></Center>;
  if (!account) return <Navigate to="/signin" replace />;
  return <SignedInShell key={account.id} signOut={signOut} />;
}

function SignedInShell({ signOut }: { signOut: () => Promise<void> }) {
  const { account } = useAuth();
  const me = account!;
  const params = useParams();
  const navigate = useNavigate();
  const [parties, setParties] = useState<Party[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [unread, setUnread] = useState<Record<string, number>>({});
  const [status, setStatus] = useState<LiveStatus>("connecting");
  const [dialog, setDialog] = useState<Dialog>(null);
  const [navOpen, nav] = useDisclosure(false);
  const [membersOpen, members] = useDisclosure(false);
  const wide = useMediaQuery("(min-width: 62em)");
  const live = useMemo(() => new Live(), []);
  const openTopic = useRef<string | undefined>(undefined);
  openTopic.current = params.topic;

  useEffect(() => clearNext(), []);

  const load = useCallback(async () => {
    try {
      setParties((await routes.parties()).parties);
      setLoadError(null);
    } catch (e) {
      setLoadError(describe(e));
    }
  }, []);

  const refreshParty = useCallback(async (id: string) => {
    try {
      const p = await routes.party(id);
      setParties((list) => {
        if (!list) return list;
        const i = list.findIndex((x) => x.id === id);
        if (i < 0) return [...list, p];
        const next = list.slice();
        next[i] = p;
        return next;
      });
    } catch {
      // Gone or not ours any more.
      setParties((list) => list?.filter((x) => x.id !== id) ?? list);
    }
  }, []);

  useEffect(() => {
    void load();
    live.start();
    const offStatus = live.onStatus(setStatus);
    const off = live.subscribe((ev: LiveEvent) => {
      switch (ev.type) {
        case "resync":
          void load();
          break;
        case "message.created":
          if (ev.data?.topicId !== openTopic.current && ev.data?.author?.memberId !== me.memberId) {
            setUnread((u) => ({ ...u, [ev.data.topicId]: (u[ev.data.topicId] ?? 0) + 1 }));
          }
          break;
        case "presence":
          setParties((list) => list?.map((p) => p.id !== ev.partyId ? p : {
            ...p, members: p.members.map((m) => m.memberId === ev.data?.memberId ? { ...m, online: !!ev.data.online } : m),
          }) ?? list);
          break;
        case "party.deleted":
          setParties((list) => {
            const p = list?.find((x) => x.id === ev.partyId);
            if (p && p.role !== "owner") notifications.show({ color: "gray", message: `${p.name} was deleted by its owner.` });
            return list?.filter((x) => x.id !== ev.partyId) ?? list;
          });
          break;
        case "member.left":
          if (ev.data?.memberId === me.memberId) {
            setParties((list) => {
              const p = list?.find((x) => x.id === ev.partyId);
              if (p && ev.data.kicked) notifications.show({ color: "orange", message: `You were removed from ${p.name}.` });
              return list?.filter((x) => x.id !== ev.partyId) ?? list;
            });
          } else {
            void refreshParty(ev.partyId);
          }
          break;
        case "party.updated":
        case "topic.created":
        case "topic.renamed":
        case "topic.deleted":
        case "member.joined":
          void refreshParty(ev.partyId);
          break;
      }
    });
    return () => {
      off();
      offStatus();
      live.stop();
    };
  }, [live, load, refreshParty, me.memberId]);

  const party = parties?.find((p) => p.id === params.party) ?? null;
  const topic = party?.topics.find((t) => t.id === params.topic) ?? null;

  // Keep the URL on something that exists: the first party and topic.
  useEffect(() => {
    if (!parties) return;
    if (!party) {
      const first = parties.find((p) => p.status === "active") ?? parties[0];
      if (first) navigate(`/p/${first.id}` + (first.topics[0] ? `/${first.topics[0].id}` : ""), { replace: true });
      else if (params.party) navigate("/", { replace: true });
      return;
    }
    if (!topic && party.topics[0]) navigate(`/p/${party.id}/${party.topics[0].id}`, { replace: true });
  }, [parties, party, topic, params.party, navigate]);

  useEffect(() => {
    if (topic) setUnread((u) => (u[topic.id] ? { ...u, [topic.id]: 0 } : u));
  }, [topic, unread[topic?.id ?? ""]]); // eslint-disable-line react-hooks/exhaustive-deps

  const isOwner = party?.role === "owner";
  const partyUnread = (p: Party) => p.topics.some((t) => (unread[t.id] ?? 0) > 0);
  const close = () => setDialog(null);
  const go = (path: string) => {
    navigate(path);
    nav.close();
  };

  const resend = async () => {
    try {
      await routes.resendVerification();
      notifications.show({ color: "green", message: `We sent a new link to ${me.email}.` });
    } catch (e) {
      notifications.show({ color: "red", message: describe(e) });
    }
  };

  return (
    <AppShell
      header={{ height: wide ? 0 : 52 }}
      navbar={{ width: 320, breakpoint: "md", collapsed: { mobile: !navOpen } }}
      aside={{ width: 240, breakpoint: "md", collapsed: { mobile: !membersOpen, desktop: !party } }}
      padding={0}
    >
      {!wide && (
        <AppShell.Header>
          <Group h="100%" px="sm" justify="space-between" wrap="nowrap">
            <Burger opened={navOpen} onClick={nav.toggle} aria-label="Parties and topics" size="sm" />
            <Text fw={600} truncate>{party ? party.name + (topic ? " · #" + topic.name : "") : "ChatterBox"}</Text>
            <ActionIcon variant="subtle" onClick={members.toggle} aria-label="Members" disabled={!party}><IconUsers size={20} /></ActionIcon>
          </Group>
        </AppShell.Header>
      )}

      <AppShell.Navbar>
        <Group h="100%" gap={0} align="stretch" wrap="nowrap">
          <nav aria-label="Parties" className="rail">
            <ScrollArea h="100%" type="never">
              <Stack gap="sm" align="center" py="sm">
                {(parties ?? []).map((p) => (
                  <Tooltip key={p.id} label={p.name + (p.status === "pending" ? " (waiting for the owner)" : "")} position="right" withArrow>
                    <Indicator disabled={!partyUnread(p)} color="red" size={10} offset={4} label="">
                      <UnstyledButton
                        onClick={() => go(`/p/${p.id}`)}
                        aria-label={p.name + (partyUnread(p) ? ", unread messages" : "")}
                        aria-current={p.id === party?.id ? "page" : undefined}
                        className="rail-item"
                        data-active={p.id === party?.id || undefined}
                        data-pending={p.status === "pending" || undefined}
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
              </Stack>
            </ScrollArea>
          </nav>

          <Stack gap={0} style={{ flex: 1, minWidth: 0 }}>
            <Group justify="space-between" p="sm" wrap="nowrap" className="pane-head">
              <Title order={2} size="h5" lineClamp={1} data-testid="party-name">{party?.name ?? "No party yet"}</Title>
              {party && (
                <Menu position="bottom-end" withinPortal>
                  <Menu.Target>
                    <ActionIcon variant="subtle" aria-label="Party options"><IconDots size={18} /></ActionIcon>
                  </Menu.Target>
                  <Menu.Dropdown>
                    {isOwner && <Menu.Item leftSection={<IconUserPlus size={16} />} onClick={() => setDialog({ kind: "invite" })}>Invite people</Menu.Item>}
                    {isOwner && <Menu.Item onClick={() => setDialog({ kind: "createTopic" })}>Create topic</Menu.Item>}
                    {isOwner && <Menu.Item onClick={() => setDialog({ kind: "renameParty" })}>Rename party</Menu.Item>}
                    {isOwner && <Menu.Item color="red" onClick={() => setDialog({ kind: "deleteParty" })}>Delete party</Menu.Item>}
                    {!isOwner && <Menu.Item color="red" onClick={() => setDialog({ kind: "leaveParty" })}>Leave party</Menu.Item>}
                  </Menu.Dropdown>
                </Menu>
              )}
            </Group>
            <ScrollArea style={{ flex: 1 }}>
              <nav aria-label="Topics">
                <Stack gap={2} p="xs">
                  {party?.status === "pending" && (
                    <Text size="sm" c="dimmed" p="xs">Waiting for the owner's node to admit you. This updates by itself.</Text>
                  )}
                  {party?.topics.map((t) => (
                    <Group key={t.id} gap={0} wrap="nowrap" className="topic-row">
                      <NavLink
                        component="button"
                        label={t.name}
                        leftSection={<IconHash size={16} />}
                        active={t.id === topic?.id}
                        onClick={() => go(`/p/${party.id}/${t.id}`)}
                        aria-current={t.id === topic?.id ? "page" : undefined}
                        rightSection={(unread[t.id] ?? 0) > 0 ? <span className="unread" aria-label={`${unread[t.id]} unread`}>{unread[t.id]}</span> : null}
                        fw={(unread[t.id] ?? 0) > 0 ? 700 : undefined}
                      />
                      {isOwner && (
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
                  {isOwner && party && (
                    <Button variant="subtle" size="xs" leftSection={<IconPlus size={14} />} justify="flex-start" onClick={() => setDialog({ kind: "createTopic" })}>
                      Add topic
                    </Button>
                  )}
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
              <Tooltip label="Sign out">
                <ActionIcon variant="subtle" onClick={() => void signOut()} aria-label="Sign out"><IconLogout size={18} /></ActionIcon>
              </Tooltip>
            </Group>
          </Stack>
        </Group>
      </AppShell.Navbar>

      <AppShell.Main className="main">
        {!me.emailVerified && (
          <Alert color="yellow" radius={0} icon={<IconMailExclamation size={18} />} data-testid="verify-banner">
            <Group gap="xs">
              <Text size="sm">Confirm your email: we sent a link to {me.email}.</Text>
              <Button size="compact-xs" variant="light" color="yellow" onClick={resend}>Send it again</Button>
            </Group>
          </Alert>
        )}
        {status === "offline" && (
          <Alert color="orange" radius={0} icon={<IconWifiOff size={18} />} role="status" data-testid="offline">
            Lost the connection to your node. Reconnecting…
          </Alert>
        )}
        {loadError && <Alert color="red" radius={0} role="alert">{loadError}</Alert>}
        {!parties ? (
          <Center style={{ flex: 1 }}><Loader aria-label="Loading parties" /></Center>
        ) : !party ? (
          <Center style={{ flex: 1 }} p="xl">
            <Stack align="center" maw={420}>
              <Title order={2} size="h3">Welcome, {me.displayName}</Title>
              <Text ta="center" c="dimmed">Create a party for your group, or open an invite link someone sent you.</Text>
              <Button leftSection={<IconPlus size={16} />} onClick={() => setDialog({ kind: "createParty" })}>Create a party</Button>
            </Stack>
          </Center>
        ) : !topic ? (
          <Center style={{ flex: 1 }} p="xl">
            <Stack align="center">
              <Text c="dimmed">{party.status === "pending" ? "Waiting for the owner's node to admit you…" : "This party has no topics yet."}</Text>
              {isOwner && <Button onClick={() => setDialog({ kind: "createTopic" })}>Create a topic</Button>}
            </Stack>
          </Center>
        ) : (
          <MessagePane key={topic.id} live={live} party={party} topic={topic} me={me.memberId} />
        )}
      </AppShell.Main>

      <AppShell.Aside>
        {party && (
          <ScrollArea h="100%">
            <Stack gap="xs" p="sm" component="section" aria-label="Members">
              <Text size="xs" fw={700} c="dimmed" tt="uppercase">Members — {party.members.length} / {party.limits?.members ?? 10}</Text>
              {party.members.map((m) => (
                <Group key={m.memberId} justify="space-between" wrap="nowrap" data-testid="member">
                  <Group gap="xs" wrap="nowrap" style={{ minWidth: 0 }}>
                    <Indicator color={m.online ? "green" : "gray"} position="bottom-end" size={10} offset={4} withBorder
                      aria-label={m.online ? "online" : "offline"}>
                      <Avatar size="sm" radius="xl">{initials(m.displayName)}</Avatar>
                    </Indicator>
                    <Stack gap={0} style={{ minWidth: 0 }}>
                      <Group gap={4} wrap="nowrap">
                        <Text size="sm" truncate>{m.label || m.displayName}{m.memberId === me.memberId ? " (you)" : ""}</Text>
                        {m.role === "owner" && <Badge size="xs" variant="light" data-testid="owner-badge">owner</Badge>}
                      </Group>
                      <Text size="xs" c="dimmed" ff="monospace" title="Member key fingerprint: compare it with the person to be sure who they are" data-testid="fingerprint">{m.fingerprint}</Text>
                    </Stack>
                  </Group>
                  {isOwner && m.role !== "owner" && (
                    <Menu position="bottom-end" withinPortal>
                      <Menu.Target>
                        <ActionIcon variant="subtle" size="sm" aria-label={`Options for ${m.displayName}`}><IconDots size={14} /></ActionIcon>
                      </Menu.Target>
                      <Menu.Dropdown>
                        <Menu.Item color="red" onClick={() => setDialog({ kind: "kick", memberId: m.memberId, name: m.label || m.displayName })}>Remove from party</Menu.Item>
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
                        setParties((l) => l ? l.map((x) => x.id === party.id ? { ...x, bans: x.bans?.filter((y) => y.memberId !== b.memberId) } : x) : l);
                      }}>Lift ban</Button>
                    </Group>
                  ))}
              </Stack>
            )}
          </ScrollArea>
        )}
      </AppShell.Aside>

      <NameDialog opened={dialog?.kind === "createParty"} title="Create a party" label="Party name" submitLabel="Create" onClose={close}
        onSubmit={async (name) => {
          const p = await routes.createParty(name);
          setParties((l) => [...(l ?? []).filter((x) => x.id !== p.id), p]);
          go(`/p/${p.id}` + (p.topics[0] ? `/${p.topics[0].id}` : ""));
        }} />
      {party && (
        <>
          <NameDialog opened={dialog?.kind === "renameParty"} title="Rename party" label="Party name" initial={party.name} submitLabel="Rename" onClose={close}
            onSubmit={async (name) => { await routes.renameParty(party.id, name); await refreshParty(party.id); }} />
          <ConfirmDialog opened={dialog?.kind === "deleteParty"} title={`Delete ${party.name}?`} confirmLabel="Delete party" onClose={close}
            text="The party, its topics and its messages go away for every member. This cannot be undone."
            onConfirm={async () => { await routes.deleteParty(party.id); setParties((l) => l?.filter((x) => x.id !== party.id) ?? l); }} />
          <ConfirmDialog opened={dialog?.kind === "leaveParty"} title={`Leave ${party.name}?`} confirmLabel="Leave party" onClose={close}
            text="You will stop receiving its messages. You need a new invite to come back."
            onConfirm={async () => { await routes.leaveParty(party.id); setParties((l) => l?.filter((x) => x.id !== party.id) ?? l); }} />
          <InviteDialog opened={dialog?.kind === "invite"} partyId={party.id} partyName={party.name} onClose={close} />
          <NameDialog opened={dialog?.kind === "createTopic"} title="Create a topic" label="Topic name" submitLabel="Create" onClose={close}
            onSubmit={async (name) => { const t = await routes.createTopic(party.id, name); await refreshParty(party.id); go(`/p/${party.id}/${t.id}`); }} />
          <NameDialog opened={dialog?.kind === "renameTopic"} title="Rename topic" label="Topic name" submitLabel="Rename" onClose={close}
            initial={dialog?.kind === "renameTopic" ? dialog.name : ""}
            onSubmit={async (name) => { if (dialog?.kind === "renameTopic") await routes.renameTopic(party.id, dialog.topicId, name); await refreshParty(party.id); }} />
          <ConfirmDialog opened={dialog?.kind === "deleteTopic"} title={`Delete #${dialog?.kind === "deleteTopic" ? dialog.name : ""}?`} confirmLabel="Delete topic" onClose={close}
            text="The topic and its messages go away for every member."
            onConfirm={async () => { if (dialog?.kind === "deleteTopic") await routes.deleteTopic(party.id, dialog.topicId); await refreshParty(party.id); }} />
          <ConfirmDialog opened={dialog?.kind === "kick"} title={`Remove ${dialog?.kind === "kick" ? dialog.name : ""}?`} confirmLabel="Remove" onClose={close}
            text="They stop receiving this party's messages and need a new invite to come back."
            onConfirm={async () => { if (dialog?.kind === "kick") await routes.kick(party.id, dialog.memberId); await refreshParty(party.id); }} />
        </>
      )}
    </AppShell>
  );
}
