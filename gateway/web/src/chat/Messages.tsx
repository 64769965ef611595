// A topic's messages: history by cursor pages (scroll up for older), live
// updates, a composer that shows a message as sent only once the node
// acknowledged it, edit and delete of one's own messages, typing, replies
// (whose quote jumps to what they answer, loading the history around it)
// and emoji reactions.
import { Suspense, lazy, useCallback, useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from "react";
import { ActionIcon, Box, Button, Center, CloseButton, Group, Loader, Menu, Popover, Stack, Text, Textarea, Tooltip, UnstyledButton } from "@mantine/core";
import { IconArrowBackUp, IconArrowDown, IconDots, IconMoodSmile, IconSend } from "@tabler/icons-react";
import { routes, type Message, type Party, type Topic } from "../api";
import { describe } from "../errors";
import type { Live, LiveEvent } from "../live";
import { Markdown } from "./Markdown";

// The emoji picker (search, recently used) is loaded when first opened.
const EmojiPicker = lazy(() => import("./EmojiPicker"));

const PAGE = 50;
const TYPING_SHOW_MS = 6000;
const TYPING_SEND_EVERY_MS = 3000;

/** A message on screen: from the node, or one of ours on its way. */
interface Row extends Message {
  state?: "sending" | "failed";
  error?: string;
}

// The node's order key; pending messages ("~") sort after every sent one.
function byOrder(a: Row, b: Row) {
  return a.order < b.order ? -1 : a.order > b.order ? 1 : 0;
}

/** Merges messages into rows by id, replacing the pending copy that has
 * the same clientId. */
function merge(rows: Row[], incoming: Message[]): Row[] {
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const m of incoming) {
    if (m.clientId) {
      for (const [k, r] of byId) if (r.state && r.clientId === m.clientId) byId.delete(k);
    }
    byId.set(m.id, m);
  }
  return [...byId.values()].sort(byOrder);
}

function newClientId() {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function timeLabel(iso: string) {
  const d = new Date(iso);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

export function MessagePane({ live, party, topic, me }: { live: Live; party: Party; topic: Topic; me: string }) {
  const [rows, setRows] = useState<Row[]>([]);
  const [cursor, setCursor] = useState<string>("");
  const [loaded, setLoaded] = useState(false);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [typing, setTyping] = useState<Record<string, { name: string; until: number }>>({});
  const scroller = useRef<HTMLDivElement>(null);
  const stick = useRef(true); // keep the view at the bottom as messages arrive
  const anchor = useRef<{ height: number; top: number } | null>(null);
  const rowsRef = useRef<Row[]>(rows);
  rowsRef.current = rows;
  // Set while the page on screen is in the past (after a jump): the
  // cursor of the next newer page. Live posts wait for "Jump to present".
  const [newer, setNewer] = useState("");
  const newerRef = useRef(newer);
  newerRef.current = newer;
  const [replyTo, setReplyTo] = useState<Row | null>(null);
  const [highlight, setHighlight] = useState("");
  // While a jump puts its target on screen, scrolling loads nothing; a
  // newest page asked for before a jump is dropped when it comes after.
  const jumping = useRef(false);
  const jumpCount = useRef(0);

  const loadNewest = useCallback(async (reset = false) => {
    if (newerRef.current && !reset) return; // in the past: "Jump to present" brings it
    const jumps = jumpCount.current;
    try {
      const page = await routes.messages(party.id, topic.id, undefined, PAGE);
      if (!reset && jumps !== jumpCount.current) return; // a jump came first: keep its page
      const known = new Set(rowsRef.current.filter((r) => !r.state).map((r) => r.id));
      const overlaps = page.messages.some((m) => known.has(m.id));
      if (reset) {
        setNewer("");
        stick.current = true;
      }
      if (!loaded || reset || (known.size > 0 && !overlaps && page.nextCursor)) {
        // First load, or more was missed than a page: start over from here
        // rather than leave a hole in the history.
        setRows((r) => merge(r.filter((x) => x.state), page.messages));
        setCursor(page.nextCursor);
      } else {
        setRows((r) => merge(r, page.messages));
      }
      setLoaded(true);
      setError(null);
    } catch (e) {
      setError(describe(e));
    }
  }, [party.id, topic.id, loaded]);

  useEffect(() => {
    void loadNewest();
  }, []); // eslint-disable-line react-hooks/exhaustive-deps

  const loadOlder = useCallback(async () => {
    if (!cursor || loadingOlder) return;
    setLoadingOlder(true);
    const el = scroller.current;
    if (el) anchor.current = { height: el.scrollHeight, top: el.scrollTop };
    try {
      const page = await routes.messages(party.id, topic.id, cursor, PAGE);
      setRows((r) => merge(r, page.messages));
      setCursor(page.nextCursor);
    } catch (e) {
      setError(describe(e));
      anchor.current = null;
    } finally {
      setLoadingOlder(false);
    }
  }, [cursor, loadingOlder, party.id, topic.id]);

  const loadNewer = useCallback(async () => {
    if (!newer || loadingOlder) return;
    try {
      const page = await routes.messagesAt(party.id, topic.id, { after: newer }, PAGE);
      setRows((r) => merge(r, page.messages));
      setNewer(page.newerCursor ?? "");
    } catch (e) {
      setError(describe(e));
    }
  }, [newer, loadingOlder, party.id, topic.id]);

  /** Shows message id: in place if loaded, else with the history around it. */
  const jumpTo = useCallback(async (id: string) => {
    jumping.current = true;
    jumpCount.current++;
    if (!rowsRef.current.some((r) => r.id === id)) {
      try {
        const page = await routes.messagesAt(party.id, topic.id, { around: id }, PAGE);
        stick.current = false;
        setRows((r) => merge(r.filter((x) => x.state), page.messages));
        setCursor(page.nextCursor);
        setNewer(page.newerCursor ?? "");
      } catch (e) {
        setError(describe(e));
        jumping.current = false;
        return;
      }
    }
    setHighlight(id);
  }, [party.id, topic.id]);

  useLayoutEffect(() => {
    if (!highlight || !jumping.current) return;
    document.getElementById("m-" + highlight)?.scrollIntoView({ block: "center" });
    const frame = requestAnimationFrame(() => { jumping.current = false; });
    return () => cancelAnimationFrame(frame);
  }, [highlight, rows]);
  useEffect(() => {
    if (!highlight) return;
    const t = window.setTimeout(() => setHighlight(""), 4000);
    return () => window.clearTimeout(t);
  }, [highlight]);

  // Keep the reader's place when older messages are added above, and stay
  // at the bottom when new ones arrive there.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    if (anchor.current) {
      el.scrollTop = el.scrollHeight - anchor.current.height + anchor.current.top;
      anchor.current = null;
    } else if (stick.current) {
      el.scrollTop = el.scrollHeight;
    }
  }, [rows]);

  // Fill the screen: a short first page leaves nothing to scroll.
  useEffect(() => {
    const el = scroller.current;
    if (el && loaded && cursor && !loadingOlder && el.scrollHeight <= el.clientHeight) void loadOlder();
  }, [loaded, cursor, loadingOlder, rows, loadOlder]);

  const onScroll = () => {
    const el = scroller.current;
    if (!el || jumping.current) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    stick.current = atBottom && !newerRef.current;
    if (el.scrollTop < 200) void loadOlder();
    if (atBottom && newerRef.current) void loadNewer();
  };

  useEffect(() => {
    return live.subscribe((ev: LiveEvent) => {
      if (ev.type === "resync") {
        void loadNewest();
        return;
      }
      if (ev.partyId !== party.id) return;
      switch (ev.type) {
        case "message.created":
        case "message.edited":
        case "message.deleted":
        case "message.reacted":
          if (ev.data.topicId !== topic.id) return;
          if (ev.type === "message.created" && newerRef.current) break; // in the past: no gap
          if (ev.type !== "message.created" && !rowsRef.current.some((r) => r.id === ev.data.id)) break;
          setRows((r) => merge(r, [ev.data]));
          if (ev.type === "message.created") {
            setTyping((t) => {
              if (!t[ev.data.author.memberId]) return t;
              const n = { ...t };
              delete n[ev.data.author.memberId];
              return n;
            });
          }
          break;
        case "typing":
          if (ev.data.topicId === topic.id && ev.data.memberId !== me) {
            setTyping((t) => ({ ...t, [ev.data.memberId]: { name: ev.data.displayName, until: Date.now() + TYPING_SHOW_MS } }));
          }
          break;
      }
    });
  }, [live, party.id, topic.id, me, loadNewest]);

  // Expire typing notes.
  useEffect(() => {
    const names = Object.keys(typing);
    if (names.length === 0) return;
    const t = window.setTimeout(() => {
      const now = Date.now();
      setTyping((cur) => Object.fromEntries(Object.entries(cur).filter(([, v]) => v.until > now)));
    }, 1000);
    return () => window.clearTimeout(t);
  }, [typing]);

  const send = useCallback(async (body: string, clientId: string, target?: Row) => {
    if (newerRef.current) void loadNewest(true);
    stick.current = true;
    const pending: Row = {
      id: "pending-" + clientId, partyId: party.id, topicId: topic.id, body, clientId,
      author: { memberId: me, displayName: "", fingerprint: "", label: "" }, createdAt: new Date().toISOString(), order: "~" + Date.now().toString(16).padStart(16, "0"), editedAt: null, deleted: false, state: "sending",
      reactions: [],
      replyTo: target ? { id: target.id, author: target.author.label || target.author.displayName, excerpt: target.body.slice(0, 80), deleted: false } : undefined,
    };
    setRows((r) => merge(r.filter((x) => x.id !== pending.id), []).concat(pending));
    try {
      const m = await routes.post(party.id, topic.id, body, clientId, target?.id);
      setRows((r) => merge(r, [m]));
    } catch (e) {
      setRows((r) => r.map((x) => (x.id === pending.id ? { ...x, state: "failed", error: describe(e) } : x)));
    }
  }, [party.id, topic.id, me, loadNewest]);

  const names = Object.values(typing).map((t) => t.name);
  const typingLine = names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing…` : names.length === 2 ? `${names[0]} and ${names[1]} are typing…` : "Several people are typing…";

  return (
    <Stack gap={0} className="pane" style={{ flex: 1, minHeight: 0 }}>
      <Group px="md" py="xs" className="pane-head" wrap="nowrap">
        <Text fw={700} truncate data-testid="topic-name"># {topic.name}</Text>
      </Group>
      <div ref={scroller} onScroll={onScroll} className="messages" role="log" aria-label={`Messages in ${topic.name}`} aria-live="polite" data-testid="messages">
        {loadingOlder && <Center p="sm"><Loader size="sm" aria-label="Loading older messages" /></Center>}
        {loaded && !cursor && (
          <Text c="dimmed" size="sm" ta="center" p="md" data-testid="history-start">This is the start of #{topic.name}.</Text>
        )}
        {!loaded && !error && <Center p="xl"><Loader aria-label="Loading messages" /></Center>}
        {error && <Text c="red" size="sm" p="md" role="alert">{error} <Button size="compact-xs" variant="light" onClick={() => void loadNewest()}>Try again</Button></Text>}
        {rows.map((m) => (
          <MessageRow key={m.id} m={m} me={me} party={party} topic={topic} highlighted={m.id === highlight}
            onRetry={() => void send(m.body, m.clientId!)}
            onDiscard={() => setRows((r) => r.filter((x) => x.id !== m.id))}
            onChanged={(n) => setRows((r) => merge(r, [n]))}
            onReply={() => setReplyTo(m)} onJump={(id) => void jumpTo(id)} />
        ))}
      </div>
      {newer && (
        <Center py={4}>
          <Button size="compact-sm" variant="light" leftSection={<IconArrowDown size={14} />} onClick={() => void loadNewest(true)} data-testid="jump-present">
            Jump to present
          </Button>
        </Center>
      )}
      <Text size="xs" c="dimmed" px="md" h={18} aria-live="polite" data-testid="typing">{typingLine}</Text>
      {replyTo && (
        <Group px="md" gap="xs" wrap="nowrap" className="replying" data-testid="replying">
          <IconArrowBackUp size={14} />
          <Text size="xs" c="dimmed" truncate style={{ flex: 1 }}>
            Replying to <b>{replyTo.author.memberId === me ? "yourself" : replyTo.author.label || replyTo.author.displayName}</b>: {replyTo.body}
          </Text>
          <CloseButton size="sm" aria-label="Cancel the reply" onClick={() => setReplyTo(null)} />
        </Group>
      )}
      <Composer topic={topic} replying={!!replyTo} onCancelReply={() => setReplyTo(null)}
        onSend={(b) => { void send(b, newClientId(), replyTo ?? undefined); setReplyTo(null); }}
        onTyping={() => live.typing(party.id, topic.id)} />
    </Stack>
  );
}

function MessageRow({ m, me, party, topic, highlighted, onRetry, onDiscard, onChanged, onReply, onJump }: {
  m: Row; me: string; party: Party; topic: Topic; highlighted: boolean;
  onRetry: () => void; onDiscard: () => void; onChanged: (m: Message) => void;
  onReply: () => void; onJump: (id: string) => void;
}) {
  const mine = m.author.memberId === me;
  const [picking, setPicking] = useState(false);
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(m.body);
  const [error, setError] = useState<string | null>(null);
  const save = async () => {
    const body = draft.trim();
    if (body === m.body) {
      setEditing(false);
      return;
    }
    try {
      onChanged(await routes.edit(party.id, topic.id, m.id, body));
      setEditing(false);
      setError(null);
    } catch (e) {
      setError(describe(e));
    }
  };
  const remove = async () => {
    try {
      await routes.deleteMessage(party.id, topic.id, m.id);
      onChanged({ ...m, deleted: true, body: "" });
    } catch (e) {
      setError(describe(e));
    }
  };
  const react = async (emoji: string, on: boolean) => {
    try {
      onChanged(await routes.react(party.id, topic.id, m.id, emoji, on));
      setError(null);
    } catch (e) {
      setError(describe(e));
    }
  };
  const labelOf = (id: string) => {
    if (id === me) return "you";
    const x = party.members.find((p) => p.memberId === id);
    return x ? x.label || x.displayName : "a former member";
  };
  const name = mine ? "You" : m.author.label || m.author.displayName;
  const live = !m.state && !m.deleted;
  return (
    <Box className="message" id={"m-" + m.id} data-testid="message" data-state={m.state ?? "sent"} data-highlighted={highlighted || undefined} px="md" py={6}>
      <Group justify="space-between" wrap="nowrap" align="flex-start">
        <Stack gap={2} style={{ minWidth: 0, flex: 1 }}>
          {m.replyTo && (
            <UnstyledButton className="reply-quote" data-testid="reply-quote" disabled={m.replyTo.deleted}
              onClick={() => m.replyTo && !m.replyTo.deleted && onJump(m.replyTo.id)}
              aria-label={m.replyTo.deleted ? "The message this replies to was deleted" : `Go to the message from ${m.replyTo.author} this replies to`}>
              <Text size="xs" c="dimmed" truncate>
                <IconArrowBackUp size={12} />{" "}
                {m.replyTo.deleted ? <i>Original message was deleted</i> : <><b>{m.replyTo.author}</b> {m.replyTo.excerpt}</>}
              </Text>
            </UnstyledButton>
          )}
          <Group gap="xs">
            <Text size="sm" fw={700} data-testid="author">{name}</Text>
            {!m.state && <Text size="xs" c="dimmed" component="time" dateTime={m.createdAt}>{timeLabel(m.createdAt)}</Text>}
            {m.editedAt && !m.deleted && <Text size="xs" c="dimmed">(edited)</Text>}
            {m.state === "sending" && <Text size="xs" c="dimmed">Sending…</Text>}
          </Group>
          {editing ? (
            <Stack gap={4}>
              <Textarea autosize minRows={1} maxRows={8} value={draft} onChange={(e) => setDraft(e.currentTarget.value)} aria-label="Edit message" autoFocus
                onFocus={(e) => { const end = e.currentTarget.value.length; e.currentTarget.setSelectionRange(end, end); }}
                onKeyDown={(e) => {
                  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); void save(); }
                  if (e.key === "Escape") { setEditing(false); setDraft(m.body); }
                }} />
              <Text size="xs" c="dimmed">Enter to save · Escape to cancel</Text>
            </Stack>
          ) : m.deleted ? (
            <Text size="sm" c="dimmed" fs="italic">This message was deleted.</Text>
          ) : (
            <Text size="sm" className="body md" data-testid="body" c={m.state ? "dimmed" : undefined} component="div"><Markdown>{m.body}</Markdown></Text>
          )}
          {m.state === "failed" && (
            <Group gap="xs">
              <Text size="xs" c="red" role="alert">Not sent: {m.error}</Text>
              <Button size="compact-xs" variant="light" onClick={onRetry}>Retry</Button>
              <Button size="compact-xs" variant="subtle" color="gray" onClick={onDiscard}>Discard</Button>
            </Group>
          )}
          {(m.reactions ?? []).length > 0 && !m.deleted && (
            <Group gap={4} data-testid="reactions">
              {m.reactions.map((r) => {
                const minee = r.memberIds.includes(me);
                return (
                  <Tooltip key={r.emoji} label={r.memberIds.map(labelOf).join(", ")} withArrow>
                    <Button size="compact-xs" radius="xl" variant={minee ? "light" : "default"} data-testid="reaction" data-mine={minee || undefined}
                      aria-pressed={minee} aria-label={`${r.emoji} ${r.count}${minee ? ", yours" : ""}`} disabled={!!m.state}
                      onClick={() => void react(r.emoji, !minee)}>
                      {r.emoji} {r.count}
                    </Button>
                  </Tooltip>
                );
              })}
            </Group>
          )}
          {error && <Text size="xs" c="red" role="alert">{error}</Text>}
        </Stack>
        {live && !editing && (
          <Group gap={0} wrap="nowrap" className="message-actions">
            <Popover opened={picking} onChange={setPicking} position="bottom-end" withinPortal trapFocus>
              <Popover.Target>
                <ActionIcon variant="subtle" size="sm" aria-label="Add a reaction" onClick={() => setPicking((o) => !o)}><IconMoodSmile size={14} /></ActionIcon>
              </Popover.Target>
              <Popover.Dropdown p={0}>
                {picking && (
                  <Suspense fallback={<Center p="md"><Loader size="sm" /></Center>}>
                    <EmojiPicker onPick={(e) => { setPicking(false); void react(e, true); }} />
                  </Suspense>
                )}
              </Popover.Dropdown>
            </Popover>
            <Tooltip label="Reply">
              <ActionIcon variant="subtle" size="sm" aria-label="Reply" onClick={onReply}><IconArrowBackUp size={14} /></ActionIcon>
            </Tooltip>
            {mine && (
              <Menu position="bottom-end" withinPortal>
                <Menu.Target>
                  <ActionIcon variant="subtle" size="sm" aria-label="Message options"><IconDots size={14} /></ActionIcon>
                </Menu.Target>
                <Menu.Dropdown>
                  <Menu.Item onClick={() => { setDraft(m.body); setEditing(true); }}>Edit</Menu.Item>
                  <Menu.Item color="red" onClick={() => void remove()}>Delete</Menu.Item>
                </Menu.Dropdown>
              </Menu>
            )}
          </Group>
        )}
      </Group>
    </Box>
  );
}

function Composer({ topic, replying, onCancelReply, onSend, onTyping }: {
  topic: Topic; replying: boolean; onCancelReply: () => void; onSend: (body: string) => void; onTyping: () => void;
}) {
  const [body, setBody] = useState("");
  const lastTyping = useRef(0);
  const submit = () => {
    const b = body.trim();
    if (!b) return;
    onSend(b);
    setBody("");
    lastTyping.current = 0;
  };
  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      submit();
    }
    if (e.key === "Escape" && replying) onCancelReply();
  };
  return (
    <Group p="sm" gap="xs" wrap="nowrap" align="flex-end" className="composer">
      <Textarea
        style={{ flex: 1 }} autosize minRows={1} maxRows={8} maxLength={4000}
        placeholder={`Message #${topic.name}`} aria-label={`Message #${topic.name}`} data-testid="composer"
        value={body} onKeyDown={onKeyDown}
        onChange={(e) => {
          setBody(e.currentTarget.value);
          const now = Date.now();
          if (e.currentTarget.value && now - lastTyping.current > TYPING_SEND_EVERY_MS) {
            lastTyping.current = now;
            onTyping();
          }
        }}
      />
      <Tooltip label="Send (Enter) · New line (Shift+Enter)">
        <ActionIcon size="lg" onClick={submit} aria-label="Send" disabled={!body.trim()}><IconSend size={18} /></ActionIcon>
      </Tooltip>
    </Group>
  );
}
