// A topic's messages: history by cursor pages (scroll up for older), live
// updates, a composer that shows a message as sent only once the node
// acknowledged it, edit and delete of one's own messages, typing, replies
// (whose quote jumps to what they answer, loading the history around it)
// and emoji reactions.
import { Suspense, lazy, useCallback, useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from "react";
import { ActionIcon, Box, Button, Center, CloseButton, Group, Loader, Menu, Modal, Popover, Stack, Text, Textarea, Tooltip, UnstyledButton } from "@mantine/core";
import { IconArrowBackUp, IconArrowDown, IconDots, IconMoodSmile, IconPaperclip, IconSend, IconLock } from "@tabler/icons-react";
import { routes, type FileChoice, type Member, type Message, type Party, type Topic } from "../api";
import { MessageFiles, PendingUploads, useUploads } from "./Attachments";
import { describe } from "../errors";
import type { Live, LiveEvent } from "../live";
import { Markdown } from "./Markdown";
import { encodeMentions, mentions } from "./mentions";

// The emoji picker (search, recently used) is loaded when first opened.
const EmojiPicker = lazy(() => import("./EmojiPicker"));

const PAGE = 50;
const TYPING_SHOW_MS = 6000;
const TYPING_SEND_EVERY_MS = 3000;

/** A message on screen: from the node, or one of ours on its way. */
interface Row extends Message {
  state?: "sending" | "failed";
  error?: string;
  /** What a pending message sends (again, on retry). */
  sending?: { body: string; files?: FileChoice[]; target?: Row };
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

/** Messages of one author this close together share one header. */
const GROUP_MS = 5 * 60 * 1000;

function dayLabel(iso: string) {
  const d = new Date(iso);
  const today = new Date();
  const yesterday = new Date(today.getTime() - 86400000);
  if (d.toDateString() === today.toDateString()) return "Today";
  if (d.toDateString() === yesterday.toDateString()) return "Yesterday";
  return d.toLocaleDateString([], { weekday: "long", year: "numeric", month: "long", day: "numeric" });
}

export function MessagePane({ live, party, topic, me, unreadAtOpen = 0, jump }: {
  live: Live; party: Party; topic: Topic; me: string; unreadAtOpen?: number;
  /** A message to show (a search hit chosen); n changes with each choice. */
  jump?: { message: string; n: number };
}) {
  // How many messages by others came while the topic was not on screen: a
  // "new messages" line goes above the first of them.
  const [unreadOthers] = useState(unreadAtOpen);
  const [editingId, setEditingId] = useState("");
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
        setLoaded(true);
      } catch (e) {
        setError(describe(e));
        jumping.current = false;
        return;
      }
    }
    setHighlight(id);
  }, [party.id, topic.id]);

  useEffect(() => {
    if (jump) void jumpTo(jump.message);
  }, [jump?.message, jump?.n]); // eslint-disable-line react-hooks/exhaustive-deps

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

  const uploads = useUploads();
  const [dragging, setDragging] = useState(false);
  const send = useCallback(async (body: string, clientId: string, target?: Row, files?: FileChoice[]) => {
    if (newerRef.current) void loadNewest(true);
    stick.current = true;
    const pending: Row = {
      id: "pending-" + clientId, partyId: party.id, topicId: topic.id, body, clientId,
      author: { memberId: me, displayName: "", fingerprint: "", label: "" }, createdAt: new Date().toISOString(), order: "~" + Date.now().toString(16).padStart(16, "0"), editedAt: null, deleted: false, state: "sending",
      reactions: [], sending: { body, files, target },
      replyTo: target ? { id: target.id, author: target.author.label || target.author.displayName, excerpt: target.body.slice(0, 80), deleted: false } : undefined,
    };
    setRows((r) => merge(r.filter((x) => x.id !== pending.id), []).concat(pending));
    try {
      const m = await routes.post(party.id, topic.id, body, clientId, target?.id, files);
      setRows((r) => merge(r, [m]));
    } catch (e) {
      setRows((r) => r.map((x) => (x.id === pending.id ? { ...x, state: "failed", error: describe(e) } : x)));
    }
  }, [party.id, topic.id, me, loadNewest]);

  // The first of the messages by others that came while away, counted
  // from the newest.
  let firstUnread = -1;
  if (unreadOthers > 0) {
    let n = 0;
    for (let i = rows.length - 1; i >= 0; i--) {
      if (rows[i].author.memberId !== me && !rows[i].state && ++n === unreadOthers) {
        firstUnread = i;
        break;
      }
    }
  }
  /** ArrowUp in an empty composer edits your last message. */
  const editLast = () => {
    const last = [...rows].reverse().find((r) => r.author.memberId === me && !r.state && !r.deleted);
    if (!last) return false;
    setEditingId(last.id);
    return true;
  };

  const names = Object.values(typing).map((t) => t.name);
  const typingLine = names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing…` : names.length === 2 ? `${names[0]} and ${names[1]} are typing…` : "Several people are typing…";

  // A direct conversation is named after the other member.
  const place = party.direct ? `@${party.name}` : `#${topic.name}`;

  return (
    <Stack gap={0} className={"pane" + (dragging ? " drop-target" : "")} style={{ flex: 1, minHeight: 0 }} data-testid="pane"
      onDragOver={(e) => {
        if (!e.dataTransfer.types.includes("Files")) return;
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={(e) => { if (e.currentTarget === e.target) setDragging(false); }}
      onDrop={(e) => {
        if (e.dataTransfer.files.length === 0) return;
        e.preventDefault();
        setDragging(false);
        uploads.add(e.dataTransfer.files);
      }}>
      <Group px="md" py="xs" className="pane-head" wrap="nowrap">
        <Text fw={700} truncate data-testid="topic-name">{party.direct ? place : `# ${topic.name}`}</Text>
        {party.encrypted && (
          <Tooltip label="End-to-end encrypted: only the party's members can read these messages. The key changes whenever someone joins or leaves." multiline w={280} withArrow>
            <Group gap={4} wrap="nowrap" c="dimmed" data-testid="e2e-lock" aria-label="End-to-end encrypted">
              <IconLock size={14} aria-hidden />
              <Text size="xs">encrypted</Text>
            </Group>
          </Tooltip>
        )}
      </Group>
      <div ref={scroller} onScroll={onScroll} className="messages" role="log" aria-label={`Messages in ${place}`} aria-live="polite" data-testid="messages">
        {loadingOlder && <Center p="sm"><Loader size="sm" aria-label="Loading older messages" /></Center>}
        {loaded && !cursor && (
          <Text c="dimmed" size="sm" ta="center" p="md" data-testid="history-start">{party.direct ? `This is the start of your conversation with ${party.name}.` : `This is the start of #${topic.name}.`}{party.encrypted ? " Messages here are end-to-end encrypted: only the party's members can read them." : ""}</Text>
        )}
        {!loaded && !error && <Center p="xl"><Loader aria-label="Loading messages" /></Center>}
        {error && <Text c="red" size="sm" p="md" role="alert">{error} <Button size="compact-xs" variant="light" onClick={() => void loadNewest()}>Try again</Button></Text>}
        {rows.map((m, i) => {
          const prev = rows[i - 1];
          const newDay = !prev || new Date(prev.createdAt).toDateString() !== new Date(m.createdAt).toDateString();
          const grouped = !!prev && !newDay && !m.replyTo && !prev.state && prev.author.memberId === m.author.memberId &&
            Date.parse(m.createdAt) - Date.parse(prev.createdAt) < GROUP_MS;
          return (
            <div key={m.id}>
              {newDay && !m.state && (
                <div className="day-divider" role="separator" data-testid="day-divider"><span>{dayLabel(m.createdAt)}</span></div>
              )}
              {i === firstUnread && <div className="new-divider" role="separator" data-testid="new-messages"><span>New messages</span></div>}
              <MessageRow m={m} me={me} party={party} topic={topic} highlighted={m.id === highlight} grouped={grouped}
                editing={editingId === m.id} setEditing={(on) => setEditingId(on ? m.id : "")}
                onRetry={() => void send(m.sending?.body ?? m.body, m.clientId!, m.sending?.target, m.sending?.files)}
                onDiscard={() => setRows((r) => r.filter((x) => x.id !== m.id))}
                onChanged={(n) => setRows((r) => merge(r, [n]))}
                onReply={() => setReplyTo(m)} onJump={(id) => void jumpTo(id)} />
            </div>
          );
        })}
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
      <PendingUploads uploads={uploads.uploads} remove={uploads.remove} />
      <Composer place={place} replying={!!replyTo} onCancelReply={() => setReplyTo(null)} onEditLast={editLast}
        members={party.members.filter((x) => x.memberId !== me)}
        files={uploads.choices.length} filesBlock={uploads.busy || uploads.failed} attach={uploads.add}
        onSend={(b) => { void send(b, newClientId(), replyTo ?? undefined, uploads.choices); uploads.clear(); setReplyTo(null); }}
        onTyping={() => live.typing(party.id, topic.id)} />
    </Stack>
  );
}

function MessageRow({ m, me, party, topic, highlighted, grouped, editing, setEditing, onRetry, onDiscard, onChanged, onReply, onJump }: {
  m: Row; me: string; party: Party; topic: Topic; highlighted: boolean; grouped: boolean;
  editing: boolean; setEditing: (on: boolean) => void;
  onRetry: () => void; onDiscard: () => void; onChanged: (m: Message) => void;
  onReply: () => void; onJump: (id: string) => void;
}) {
  const mine = m.author.memberId === me;
  const [picking, setPicking] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [draft, setDraft] = useState(m.body);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (editing) setDraft(m.body);
  }, [editing]); // eslint-disable-line react-hooks/exhaustive-deps
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
  const nameOf = (id: string) => {
    const x = party.members.find((p) => p.memberId === id);
    return x ? x.label || x.displayName : "former member";
  };
  const name = mine ? "You" : m.author.label || m.author.displayName;
  const live = !m.state && !m.deleted;
  return (
    <Box className="message" id={"m-" + m.id} data-testid="message" data-state={m.state ?? "sent"} data-highlighted={highlighted || undefined}
      data-mentions-me={(!mine && !m.deleted && mentions(m.body, me)) || undefined} px="md" py={grouped ? 2 : 6}>
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
          {(!grouped || (m.editedAt && !m.deleted) || m.state === "sending") && (
            <Group gap="xs">
              {!grouped && <Text size="sm" fw={700} data-testid="author">{name}</Text>}
              {!m.state && !grouped && <Text size="xs" c="dimmed" component="time" dateTime={m.createdAt}>{timeLabel(m.createdAt)}</Text>}
              {m.editedAt && !m.deleted && <Text size="xs" c="dimmed">(edited)</Text>}
              {m.state === "sending" && <Text size="xs" c="dimmed">Sending…</Text>}
            </Group>
          )}
          {editing ? (
            <Stack gap={4}>
              <Textarea autosize minRows={1} maxRows={8} value={draft} onChange={(e) => setDraft(e.currentTarget.value)} aria-label="Edit message" autoFocus
                onFocus={(e) => { const end = e.currentTarget.value.length; e.currentTarget.setSelectionRange(end, end); }}
                onKeyDown={(e) => {
                  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); void save(); }
                  if (e.key === "Escape") { e.stopPropagation(); setEditing(false); setDraft(m.body); }
                }} />
              <Text size="xs" c="dimmed">Enter to save · Escape to cancel</Text>
            </Stack>
          ) : m.deleted ? (
            <Text size="sm" c="dimmed" fs="italic">This message was deleted.</Text>
          ) : (
            <>
              {m.body && <Text size="sm" className="body md" data-testid="body" c={m.state ? "dimmed" : undefined} component="div"><Markdown nameOf={nameOf} me={me}>{m.body}</Markdown></Text>}
              {m.files && m.files.length > 0 && !m.state && <MessageFiles partyId={party.id} files={m.files} />}
            </>
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
                  <Menu.Item onClick={() => setEditing(true)}>Edit</Menu.Item>
                  <Menu.Item color="red" title="Shift+click deletes without asking"
                    onClick={(e) => (e.shiftKey ? void remove() : setConfirmDelete(true))}>Delete</Menu.Item>
                </Menu.Dropdown>
              </Menu>
            )}
          </Group>
        )}
      </Group>
      <Modal opened={confirmDelete} onClose={() => setConfirmDelete(false)} title="Delete this message?" centered>
        <Stack>
          <Text size="sm" lineClamp={3}>{m.body}</Text>
          <Text size="xs" c="dimmed">It goes away for everyone. (Shift+click on Delete skips this question.)</Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirmDelete(false)} data-autofocus>Cancel</Button>
            <Button color="red" onClick={() => { setConfirmDelete(false); void remove(); }}>Delete</Button>
          </Group>
        </Stack>
      </Modal>
    </Box>
  );
}

function Composer({ place, replying, onCancelReply, onEditLast, members, onSend, onTyping, files, filesBlock, attach }: {
  /** Where the message goes: "#topic", or "@name" in a direct conversation. */
  place: string; replying: boolean; onCancelReply: () => void; onEditLast: () => boolean; members: Member[];
  onSend: (body: string) => void; onTyping: () => void;
  /** files: uploaded files waiting to go with the message; filesBlock:
   * some are still uploading, or failed (remove them to send). */
  files: number; filesBlock: boolean; attach: (files: Iterable<File>) => void;
}) {
  const [body, setBody] = useState("");
  const picker = useRef<HTMLInputElement>(null);
  const canSend = (!!body.trim() || files > 0) && !filesBlock;
  const lastTyping = useRef(0);
  const input = useRef<HTMLTextAreaElement>(null);
  // The @mention picker: the word being typed after "@", the members it
  // matches, the one chosen with the arrows; and the mentions inserted
  // (shown as @Label, sent as <@memberId>).
  const [query, setQuery] = useState<string | null>(null);
  const [pick, setPick] = useState(0);
  const picked = useRef(new Map<string, string>());
  const labelOf = (m: Member) => m.label || m.displayName;
  const matches = query === null ? [] : members.filter((m) => labelOf(m).toLowerCase().includes(query.toLowerCase())).slice(0, 8);
  const findQuery = (text: string, caret: number) => {
    const m = /(^|\s)@([^\s@]{0,32})$/.exec(text.slice(0, caret));
    setQuery(m ? m[2] : null);
    setPick(0);
  };
  const choose = (m: Member) => {
    const el = input.current;
    const caret = el?.selectionStart ?? body.length;
    const before = body.slice(0, caret).replace(/@([^\s@]{0,32})$/, "@" + labelOf(m) + " ");
    const next = before + body.slice(caret);
    picked.current.set(labelOf(m), m.memberId);
    setBody(next);
    setQuery(null);
    requestAnimationFrame(() => { el?.focus(); el?.setSelectionRange(before.length, before.length); });
  };
  const submit = () => {
    const b = body.trim();
    if (!canSend) return;
    onSend(encodeMentions(b, picked.current));
    picked.current = new Map();
    setBody("");
    setQuery(null);
    lastTyping.current = 0;
  };
  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (matches.length > 0) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        setPick((i) => (i + (e.key === "ArrowDown" ? 1 : matches.length - 1)) % matches.length);
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        choose(matches[pick]);
        return;
      }
      if (e.key === "Escape") {
        e.preventDefault();
        setQuery(null);
        return;
      }
    }
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      submit();
    }
    if (e.key === "Escape" && replying) onCancelReply();
    if (e.key === "ArrowUp" && !body.trim() && onEditLast()) e.preventDefault();
  };
  return (
    <>
    {matches.length > 0 && (
      <Stack gap={0} className="mention-picker" role="listbox" aria-label="Mention someone" data-testid="mention-picker">
        {matches.map((m, i) => (
          <UnstyledButton key={m.memberId} role="option" aria-selected={i === pick} px="xs" py={4}
            className="mention-option" data-active={i === pick || undefined}
            onMouseDown={(e) => { e.preventDefault(); choose(m); }}>
            <Text size="sm">@{labelOf(m)} <Text span size="xs" c="dimmed" ff="monospace">{m.fingerprint}</Text></Text>
          </UnstyledButton>
        ))}
      </Stack>
    )}
    <Group p="sm" gap="xs" wrap="nowrap" align="flex-end" className="composer">
      <input ref={picker} type="file" multiple hidden data-testid="file-input"
        onChange={(e) => { if (e.currentTarget.files) attach(Array.from(e.currentTarget.files)); e.currentTarget.value = ""; }} />
      <Tooltip label="Attach files (or drop or paste them)">
        <ActionIcon size="lg" variant="subtle" aria-label="Attach files" onClick={() => picker.current?.click()}><IconPaperclip size={18} /></ActionIcon>
      </Tooltip>
      <Textarea
        ref={input}
        style={{ flex: 1 }} autosize minRows={1} maxRows={8} maxLength={4000}
        placeholder={`Message ${place}`} aria-label={`Message ${place}`} data-testid="composer"
        value={body} onKeyDown={onKeyDown}
        onPaste={(e) => {
          if (e.clipboardData.files.length === 0) return;
          e.preventDefault();
          attach(Array.from(e.clipboardData.files));
        }}
        onChange={(e) => {
          setBody(e.currentTarget.value);
          findQuery(e.currentTarget.value, e.currentTarget.selectionStart ?? e.currentTarget.value.length);
          const now = Date.now();
          if (e.currentTarget.value && now - lastTyping.current > TYPING_SEND_EVERY_MS) {
            lastTyping.current = now;
            onTyping();
          }
        }}
      />
      <Tooltip label="Send (Enter) · New line (Shift+Enter)">
        <ActionIcon size="lg" onClick={submit} aria-label="Send" disabled={!canSend}><IconSend size={18} /></ActionIcon>
      </Tooltip>
    </Group>
    </>
  );
}
