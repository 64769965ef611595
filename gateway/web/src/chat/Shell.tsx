// The main screen: the navigation column (parties, topics), the message
// pane and the member list. State lives in the parties store (parties.ts),
// the URL in usePartyRoute, the dialogs in ShellDialogs.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Navigate, useNavigate } from "react-router-dom";
import { ActionIcon, Alert, AppShell, Burger, Button, Center, Group, Loader, Stack, Text, Title } from "@mantine/core";
import { useDisclosure, useHotkeys, useMediaQuery } from "@mantine/hooks";
import { notifications } from "@mantine/notifications";
import { IconMailExclamation, IconPlus, IconUsers, IconWifiOff } from "@tabler/icons-react";
import { routes } from "../api";
import { useAuth } from "../auth";
import { describe } from "../errors";
import { Live, type LiveStatus } from "../live";
import { clearNext } from "../next";
import { MemberList } from "./MemberList";
import { MessagePane } from "./Messages";
import { PartyNav } from "./PartyNav";
import { SearchDialog, type SearchTarget } from "./Search";
import { useParties } from "./parties";
import { ShellDialogs, type Dialog } from "./ShellDialogs";
import { usePartyRoute } from "./usePartyRoute";

export function Shell() {
  const { account, state, signOut } = useAuth();
  if (state.status === "loading") return <Center mih="100vh"><Loader aria-label="Loading" /></Center>;
  if (!account) return <Navigate to="/signin" replace />;
  return <SignedInShell key={account.id} signOut={signOut} />;
}

function SignedInShell({ signOut }: { signOut: () => Promise<void> }) {
  const { account } = useAuth();
  const me = account!;
  const navigate = useNavigate();
  const live = useMemo(() => new Live(), []);
  const [status, setStatus] = useState<LiveStatus>("connecting");
  const [dialog, setDialog] = useState<Dialog>(null);
  const [navOpen, nav] = useDisclosure(false);
  const [membersOpen, members] = useDisclosure(false);
  const wide = useMediaQuery("(min-width: 62em)");
  const [searchOpen, search] = useDisclosure(false);
  // The message the pane jumps to: a search hit chosen (n tells two
  // choices of one message apart).
  const [jump, setJump] = useState<(SearchTarget & { n: number }) | null>(null);
  useHotkeys([["mod+K", search.open]], []);

  const openTopic = useRef<string | undefined>(undefined);
  const navigateRef = useRef(navigate);
  navigateRef.current = navigate;
  const store = useParties(live, me.memberId, useCallback(() => openTopic.current, []), useCallback((p: string) => navigateRef.current(p), []));
  const { parties, unread, mentioned, loadError } = store;
  const { party, topic } = usePartyRoute(parties);
  openTopic.current = topic?.id;

  useEffect(() => clearNext(), []);
  useEffect(() => {
    live.start();
    const off = live.onStatus(setStatus);
    return () => {
      off();
      live.stop();
    };
  }, [live]);
  useEffect(() => {
    if (topic) store.dispatch({ type: "read", topicId: topic.id });
  }, [topic, unread[topic?.id ?? ""]]); // eslint-disable-line react-hooks/exhaustive-deps

  // The unverified-email banner can be hidden for a day.
  const bannerKey = `chatterbox.verifyBannerHiddenAt.${me.id}`;
  const [bannerHidden, setBannerHidden] = useState(() => Date.now() - Number(localStorage.getItem(bannerKey) ?? 0) < 86400000);
  const hideBanner = () => {
    localStorage.setItem(bannerKey, String(Date.now()));
    setBannerHidden(true);
  };

  const go = (path: string) => {
    navigate(path);
    nav.close();
  };
  const chooseHit = (t: SearchTarget) => {
    search.close();
    setJump((j) => ({ ...t, n: (j?.n ?? 0) + 1 }));
    go(`/p/${t.party}/${t.topic}`);
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
            <Text fw={600} truncate>{party ? party.name + (topic && !party.direct ? " · #" + topic.name : "") : "ChatterBox"}</Text>
            <ActionIcon variant="subtle" onClick={members.toggle} aria-label="Members" disabled={!party}><IconUsers size={20} /></ActionIcon>
          </Group>
        </AppShell.Header>
      )}

      <AppShell.Navbar>
        <PartyNav me={me} parties={parties} party={party} topic={topic} unread={unread} mentioned={mentioned} setDialog={setDialog} go={go} signOut={signOut} openSearch={search.open} />
      </AppShell.Navbar>

      <AppShell.Main className="main">
        {!me.emailVerified && !bannerHidden && (
          <Alert color="yellow" radius={0} py={4} icon={<IconMailExclamation size={16} />} data-testid="verify-banner"
            withCloseButton closeButtonLabel="Hide for a day" onClose={hideBanner}>
            <Group gap="xs" wrap="nowrap">
              <Text size="xs" truncate>Confirm your email so a forgotten password can be reset: we sent a link to {me.email}.</Text>
              <Button size="compact-xs" variant="subtle" color="yellow" onClick={resend}>Send again</Button>
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
              <Text c="dimmed">{party.status === "pending" ? "Waiting for the node that issued your invite to let you in…"
                : party.status === "undone" ? "You were not let in after all." : "This party has no topics yet."}</Text>
              {(party.role === "owner" || party.role === "admin") && party.status === "active" && (
                <Button onClick={() => setDialog({ kind: "createTopic" })}>Create a topic</Button>
              )}
            </Stack>
          </Center>
        ) : (
          <MessagePane key={topic.id} live={live} party={party} topic={topic} me={me.memberId} unreadAtOpen={unread[topic.id] ?? 0}
            jump={jump?.topic === topic.id ? jump : undefined} />
        )}
      </AppShell.Main>

      <AppShell.Aside>
        {party && <MemberList party={party} me={me.memberId} store={store} setDialog={setDialog} go={go} />}
      </AppShell.Aside>

      <SearchDialog opened={searchOpen} close={search.close} choose={chooseHit} />
      <ShellDialogs dialog={dialog} close={() => setDialog(null)} party={party} store={store} go={go} me={me.memberId} />
    </AppShell>
  );
}
