// A topic's messages: history by cursor pages (scroll up for older), live
// updates, a composer that shows a message as sent only once the node
// acknowledged it, edit and delete of one's own messages, and typing.
import { useCallback, useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from "react";
import { ActionIcon, Box, Button, Center, Group, Loader, Menu, Stack, Text, Textarea, Tooltip } from "@mantine/core";
import { IconDots, IconSend } from "@tabler/icons-react";
import { routes, type Message, type Party, type Topic } from "../api";
import { describe } from "../errors";
import type { Live, LiveEvent } from "../live";

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

  const loadNewest = useCallback(async () => {
    try {
      const page = await routes.messages(party.id, topic.id, undefined, PAGE);
      const known = new Set(rowsRef.current.filter((r) => !r.state).map((r) => r.id));
      const overlaps = page.messages.some((m) => known.has(m.id));
      if (!loaded || (known.size > 0 && !overlaps && page.nextCursor)) {
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
    if (!el) return;
    stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    if (el.scrollTop < 200) void loadOlder();
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
          if (ev.data.topicId !== topic.id) return;
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

  const send = useCallback(async (body: string, clientId: string) => {
    stick.current = true;
    const pending: Row = {
      id: "pending-" + clientId, partyId: party.id, topicId: topic.id, body, clientId,
      author: { memberId: me, displayName: "", fingerprint: "", label: "" }, createdAt: new Date().toISOString(), order: "~" + Date.now().toString(16).padStart(16, "0"), editedAt: null, deleted: false, state: "sending",
    };
    setRows((r) => merge(r.filter((x) => x.id !== pending.id), []).concat(pending));
    try {
      const m = await routes.post(party.id, topic.id, body, clientId);
      setRows((r) => merge(r, [m]));
    } catch (e) {
      setRows((r) => r.map((x) => (x.id === pending.id ? { ...x, state: "failed", error: describe(e) } : x)));
    }
  }, [party.id, topic.id, me]);

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
          <MessageRow key={m.id} m={m} mine={m.author.memberId === me} party={party} topic={topic}
            onRetry={() => void send(m.body, m.clientId!)}
            onDiscard={() => setRows((r) => r.filter((x) => x.id !== m.id))}
            onChanged={(n) => setRows((r) => merge(r, [n]))} />
        ))}
      </div>
      <Text size="xs" c="dimmed" px="md" h={18} aria-live="polite" data-testid="typing">{typingLine}</Text>
      <Composer topic={topic} onSend={(b) => void send(b, newClientId())} onTyping={() => live.typing(party.id, topic.id)} />
    </Stack>
  );
}

function MessageRow({ m, mine, party, topic, onRetry, onDiscard, onChanged }: {
  m: Row; mine: boolean; party: Party; topic: Topic;
  onRetry: () => void; onDiscard: () => void; onChanged: (m: Message) => void;
}) {
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
  const name = mine ? "You" : m.author.label || m.author.displayName;
  return (
    <Box className="message" data-testid="message" data-state={m.state ?? "sent"} px="md" py={6}>
      <Group justify="space-between" wrap="nowrap" align="flex-start">
        <Stack gap={2} style={{ minWidth: 0, flex: 1 }}>
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
            <Text size="sm" className="body" data-testid="body" c={m.state ? "dimmed" : undefined}>{m.body}</Text>
          )}
          {m.state === "failed" && (
            <Group gap="xs">
              <Text size="xs" c="red" role="alert">Not sent: {m.error}</Text>
              <Button size="compact-xs" variant="light" onClick={onRetry}>Retry</Button>
              <Button size="compact-xs" variant="subtle" color="gray" onClick={onDiscard}>Discard</Button>
            </Group>
          )}
          {error && <Text size="xs" c="red" role="alert">{error}</Text>}
        </Stack>
        {mine && !m.state && !m.deleted && !editing && (
          <Menu position="bottom-end" withinPortal>
            <Menu.Target>
              <ActionIcon variant="subtle" size="sm" className="message-actions" aria-label="Message options"><IconDots size={14} /></ActionIcon>
            </Menu.Target>
            <Menu.Dropdown>
              <Menu.Item onClick={() => { setDraft(m.body); setEditing(true); }}>Edit</Menu.Item>
              <Menu.Item color="red" onClick={() => void remove()}>Delete</Menu.Item>
            </Menu.Dropdown>
          </Menu>
        )}
      </Group>
    </Box>
  );
}

function Composer({ topic, onSend, onTyping }: { topic: Topic; onSend: (body: string) => void; onTyping: () => void }) {
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
