// The search box (Ctrl+K / Cmd+K, or the magnifier in the navigation):
// searches every message this node holds that the account can read, with
// the filters chat users know, and shows the hits grouped by party and
// topic with the matched words marked. Choosing one opens its topic at
// that message. Bodies are shown as text: marks are the only markup.
import { Fragment, useEffect, useRef, useState, type ReactNode } from "react";
import { Alert, Box, Group, Loader, Modal, ScrollArea, Stack, Text, TextInput, UnstyledButton } from "@mantine/core";
import { IconSearch } from "@tabler/icons-react";
import { routes, type SearchHit, type SearchResults } from "../api";
import { describe } from "../errors";

/** Where a chosen hit is: the shell opens the topic and jumps there. */
export interface SearchTarget {
  party: string;
  topic: string;
  message: string;
}

const WAIT_MS = 250; // after the last key, before asking the node

export function SearchDialog({ opened, close, choose }: { opened: boolean; close: () => void; choose: (t: SearchTarget) => void }) {
  const [q, setQ] = useState("");
  const [res, setRes] = useState<SearchResults | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const asked = useRef(0);

  useEffect(() => {
    const text = q.trim();
    if (!text) {
      setRes(null);
      setError(null);
      return;
    }
    const n = ++asked.current;
    const t = window.setTimeout(async () => {
      setBusy(true);
      try {
        const r = await routes.search(text, 50);
        if (n === asked.current) {
          setRes(r);
          setError(null);
        }
      } catch (e) {
        if (n === asked.current) {
          setRes(null);
          setError(describe(e));
        }
      } finally {
        if (n === asked.current) setBusy(false);
      }
    }, WAIT_MS);
    return () => window.clearTimeout(t);
  }, [q]);

  const groups = groupHits(res?.results ?? []);
  return (
    <Modal opened={opened} onClose={close} title="Search messages" size="lg" data-testid="search-dialog">
      <Stack gap="sm">
        <TextInput data-autofocus aria-label="Search" placeholder="Words, or from:name in:topic has:link before:2026-01-31 after:…"
          leftSection={busy ? <Loader size={14} /> : <IconSearch size={16} />} value={q} onChange={(e) => setQ(e.currentTarget.value)} />
        {error && <Alert color="red" role="alert">{error}</Alert>}
        {res?.indexing && <Text size="xs" c="dimmed">This node is still indexing older messages; some may be missing.</Text>}
        {res && !error && (
          <Text size="xs" c="dimmed" data-testid="search-total">
            {res.total === 0 ? "Nothing found." : res.total === 1 ? "1 message"
              : (res.partial ? `More than ${res.total} messages` : `${res.total} messages`) + (res.total > res.results.length ? `, the newest ${res.results.length} shown` : "")}
          </Text>
        )}
        <ScrollArea.Autosize mah="60vh">
          <Stack gap="md">
            {groups.map((g) => (
              <Box key={g.key} data-testid="search-group">
                <Text size="xs" fw={700} c="dimmed" tt="uppercase">{g.title}</Text>
                <Stack gap={2} mt={4}>
                  {g.hits.map((h) => (
                    <UnstyledButton key={h.message.id} className="search-hit" data-testid="search-hit" p="xs"
                      onClick={() => choose({ party: h.message.partyId, topic: h.message.topicId, message: h.message.id })}>
                      <Group gap="xs" wrap="nowrap">
                        <Text size="sm" fw={600}>{h.message.author.label}</Text>
                        <Text size="xs" c="dimmed">{new Date(h.message.createdAt).toLocaleString([], { dateStyle: "medium", timeStyle: "short" })}</Text>
                      </Group>
                      <Text size="sm" lineClamp={3} style={{ whiteSpace: "pre-wrap", wordBreak: "break-word" }}>
                        <Marked body={h.message.body} matches={h.matches} />
                      </Text>
                    </UnstyledButton>
                  ))}
                </Stack>
              </Box>
            ))}
          </Stack>
        </ScrollArea.Autosize>
      </Stack>
    </Modal>
  );
}

/** Hits in groups of one party and topic, in the order the node gave
 * (newest first), each group where its newest hit is. */
function groupHits(hits: SearchHit[]) {
  const out: { key: string; title: string; hits: SearchHit[] }[] = [];
  const byKey = new Map<string, (typeof out)[number]>();
  for (const h of hits) {
    const key = h.message.partyId + "/" + h.message.topicId;
    let g = byKey.get(key);
    if (!g) {
      g = { key, title: h.direct ? `@${h.partyName}` : `${h.partyName} · #${h.topicName}`, hits: [] };
      byKey.set(key, g);
      out.push(g);
    }
    g.hits.push(h);
  }
  return out;
}

/** body with the ranges (UTF-16 offsets, as JavaScript indexes strings) in <mark>. */
function Marked({ body, matches }: { body: string; matches: number[][] }) {
  const parts: ReactNode[] = [];
  let at = 0;
  for (const [s, e] of matches) {
    if (s < at || e > body.length) continue;
    parts.push(<Fragment key={"t" + s}>{body.slice(at, s)}</Fragment>, <mark key={"m" + s}>{body.slice(s, e)}</mark>);
    at = e;
  }
  parts.push(<Fragment key="rest">{body.slice(at)}</Fragment>);
  return <>{parts}</>;
}
