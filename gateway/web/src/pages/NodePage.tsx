// /node: what this node is and how it reaches the nodes of the account's
// parties — what a user looks at when a friend does not see their
// messages. Refreshed every few seconds.
import { useEffect, useState } from "react";
import { Link, Navigate } from "react-router-dom";
import { Alert, Anchor, Badge, Code, Container, CopyButton, Button, Group, Loader, Paper, Stack, Table, Text, Title } from "@mantine/core";
import { routes, type NodeInfo, type PartyHealth } from "../api";
import { useAuth } from "../auth";
import { describe, sentenceFor } from "../errors";

const reachNote: Record<string, string> = {
  Public: "Other nodes can dial this node directly.",
  Private: "This node is behind a router that other nodes cannot dial through: they reach it through a relay, and switch to a direct connection when hole punching works.",
  Unknown: "This node is still asking peers whether they can dial it.",
};

function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function ago(iso?: string): string {
  if (!iso) return "";
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

export function NodePage() {
  const { state } = useAuth();
  const [info, setInfo] = useState<NodeInfo | null>(null);
  const [parties, setParties] = useState<PartyHealth[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (state.status !== "signedIn") return;
    let stop = false;
    const load = async () => {
      try {
        const [n, p] = await Promise.all([routes.node(), routes.nodeParties()]);
        if (!stop) {
          setInfo(n);
          setParties(p.parties);
          setError(null);
        }
      } catch (e) {
        if (!stop) setError(describe(e));
      }
    };
    void load();
    const timer = setInterval(load, 5000);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [state.status]);

  if (state.status === "loading") return <Loader m="xl" aria-label="Loading" />;
  if (state.status !== "signedIn") return <Navigate to="/signin" replace />;

  return (
    <Container size="md" py="lg" component="main">
      <Stack gap="lg">
        <Group justify="space-between">
          <Title order={1} size="h2">This node</Title>
          <Anchor component={Link} to="/">Back to your parties</Anchor>
        </Group>
        {error && <Alert color="red" role="alert">{error}</Alert>}
        {!info ? <Loader aria-label="Loading the node" /> : (
          <Paper withBorder p="md">
            <Stack gap="xs" data-testid="node-info">
              <Group gap="xs">
                <Text fw={600}>Reachability</Text>
                <Badge color={info.reachability === "Public" ? "green" : info.reachability === "Private" ? "yellow" : "gray"} data-testid="reachability">
                  {info.reachability}
                </Badge>
              </Group>
              <Text size="sm" c="dimmed">{reachNote[info.reachability] ?? ""}</Text>
              {info.relays.length > 0 && <Text size="sm">Relays holding a slot for this node: {info.relays.map((r) => <Code key={r}>{r.slice(-8)}</Code>)}</Text>}
              <Group gap="xs" wrap="nowrap">
                <Text fw={600}>Peer id</Text>
                <Code style={{ overflowWrap: "anywhere" }} data-testid="peer-id">{info.peerId}</Code>
                <CopyButton value={info.peerId}>{({ copied, copy }) => <Button size="compact-xs" variant="subtle" onClick={copy}>{copied ? "Copied" : "Copy"}</Button>}</CopyButton>
              </Group>
              <Text fw={600}>Addresses</Text>
              {info.addrs.length === 0 ? <Text size="sm" c="dimmed">None yet.</Text>
                : info.addrs.map((a) => <Code key={a} block style={{ overflowWrap: "anywhere" }}>{a}</Code>)}
              <Text size="sm">
                Version <b>{info.version}</b> · traffic {bytes(info.traffic.bytesIn)} in, {bytes(info.traffic.bytesOut)} out
                ({bytes(info.traffic.rateIn)}/s, {bytes(info.traffic.rateOut)}/s) · storage <span data-testid="storage">{bytes(info.storageBytes)}</span>
              </Text>
            </Stack>
          </Paper>
        )}
        <Title order={2} size="h3">Your parties' nodes</Title>
        <Text size="sm" c="dimmed">
          Messages reach a member when this node, or any member's node it reaches, is connected to theirs. A node that is
          away gets everything when it comes back.
        </Text>
        {!parties ? <Loader aria-label="Loading the parties" /> : parties.length === 0 ? <Text c="dimmed">You are in no party yet.</Text> : parties.map((p) => (
          <Paper key={p.id} withBorder p="md" data-testid="party-health">
            <Text fw={700} mb="xs">{p.direct ? `@${p.name}` : p.name}</Text>
            {p.nodes.length === 0 ? <Text size="sm" c="dimmed">Nobody else is in it yet.</Text> : (
              <Table>
                <Table.Thead>
                  <Table.Tr><Table.Th>Members</Table.Th><Table.Th>Their node</Table.Th><Table.Th>Last sync</Table.Th><Table.Th>Messages held</Table.Th></Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {p.nodes.map((n) => (
                    <Table.Tr key={n.peer} data-testid="node-health">
                      <Table.Td>{n.members.join(", ")}</Table.Td>
                      <Table.Td>
                        {n.connected && n.relayed ? (
                          <Badge color="yellow" data-testid="relayed" title="No direct connection: hole punching did not succeed, so traffic goes through a relay. This happens behind routers that give every destination a new port (symmetric NAT); it works, a little slower.">
                            connected via a relay
                          </Badge>
                        ) : n.connected ? <Badge color="green" data-testid="connected">connected</Badge>
                          : <Badge color="gray" data-testid="away">{n.lastSeen ? `away, seen ${ago(n.lastSeen)}` : "not seen since this node started"}</Badge>}
                      </Table.Td>
                      <Table.Td>
                        {!n.lastSync ? <Text size="sm" c="dimmed">none yet</Text>
                          : n.syncError ? <Text size="sm" c="red">failed {ago(n.lastSync)}: {sentenceFor(n.syncError)}</Text>
                          : <Text size="sm" data-testid="synced">{ago(n.lastSync)}</Text>}
                      </Table.Td>
                      <Table.Td>{n.messages}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
          </Paper>
        ))}
      </Stack>
    </Container>
  );
}
