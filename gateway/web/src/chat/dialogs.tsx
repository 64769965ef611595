// Dialogs: naming a party or topic, confirming a destructive action, and
// the invite dialog.
import { useEffect, useState, type FormEvent } from "react";
import {
  ActionIcon, Badge, Button, CopyButton, Group, Modal, NumberInput, SegmentedControl, Select, Stack, Table, Text, TextInput, Tooltip,
} from "@mantine/core";
import { IconCheck, IconCopy, IconTrash } from "@tabler/icons-react";
import { routes, type Invite, type Party } from "../api";
import { notifyLevel, setNotifyLevel, type NotifyLevel } from "./mentions";
import { useAction } from "../useAction";
import { ErrorNote } from "../pages/AuthPages";

export function NameDialog(props: {
  opened: boolean;
  title: string;
  label: string;
  initial?: string;
  /** A line under the title, e.g. how many of the limit are used. */
  note?: string;
  /** Why nothing can be created now (the limit is reached). */
  blocked?: string;
  submitLabel: string;
  onClose: () => void;
  onSubmit: (name: string) => Promise<void>;
}) {
  const [name, setName] = useState(props.initial ?? "");
  const { busy, error, setError, run } = useAction(async () => {
    await props.onSubmit(name.trim());
    props.onClose();
  });
  useEffect(() => {
    if (props.opened) {
      setName(props.initial ?? "");
      setError(null);
    }
  }, [props.opened, props.initial, setError]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run();
  };
  return (
    <Modal opened={props.opened} onClose={props.onClose} title={props.title} centered>
      <form onSubmit={submit}>
        <Stack>
          <ErrorNote error={error} />
          {props.note && <Text size="sm" c="dimmed" data-testid="limit-note">{props.note}</Text>}
          {props.blocked && <Text size="sm" c="orange" role="alert">{props.blocked}</Text>}
          <TextInput label={props.label} required maxLength={64} value={name} onChange={(e) => setName(e.currentTarget.value)} data-autofocus disabled={!!props.blocked} />
          <Group justify="flex-end">
            <Button variant="default" onClick={props.onClose}>Cancel</Button>
            <Button type="submit" loading={busy} disabled={!!props.blocked}>{props.submitLabel}</Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

export function ConfirmDialog(props: {
  opened: boolean;
  title: string;
  text: string;
  confirmLabel: string;
  onClose: () => void;
  onConfirm: () => Promise<void>;
}) {
  const { busy, error, setError, run } = useAction(async () => {
    await props.onConfirm();
    props.onClose();
  });
  useEffect(() => {
    if (props.opened) setError(null);
  }, [props.opened, setError]);
  const confirm = () => void run();
  return (
    <Modal opened={props.opened} onClose={props.onClose} title={props.title} centered>
      <Stack>
        <ErrorNote error={error} />
        <Text size="sm">{props.text}</Text>
        <Group justify="flex-end">
          <Button variant="default" onClick={props.onClose} data-autofocus>Cancel</Button>
          <Button color="red" onClick={confirm} loading={busy}>{props.confirmLabel}</Button>
        </Group>
      </Stack>
    </Modal>
  );
}

const expiries = [
  { value: String(30 * 60), label: "30 minutes" },
  { value: String(3600), label: "1 hour" },
  { value: String(24 * 3600), label: "1 day" },
  { value: String(7 * 24 * 3600), label: "7 days" },
  { value: String(30 * 24 * 3600), label: "30 days" },
];

export function InviteDialog(props: { opened: boolean; partyId: string; partyName: string; onClose: () => void }) {
  const [expires, setExpires] = useState(String(7 * 24 * 3600));
  const [maxUses, setMaxUses] = useState<number | string>(0);
  const [invites, setInvites] = useState<Invite[]>([]);
  const [created, setCreated] = useState<Invite | null>(null);
  const load = async () => setInvites((await routes.invites(props.partyId)).invites);
  const { busy, error, setError, run } = useAction(async (what: "load" | "create" | "revoke", id?: string) => {
    if (what === "create") setCreated(await routes.createInvite(props.partyId, Number(expires), Number(maxUses) || 0));
    if (what === "revoke") await routes.revokeInvite(props.partyId, id!);
    await load();
  });
  useEffect(() => {
    if (props.opened) {
      setCreated(null);
      setError(null);
      void run("load");
    }
  }, [props.opened, props.partyId, run, setError]);

  const create = (e: FormEvent) => {
    e.preventDefault();
    void run("create");
  };
  const revoke = (id: string) => void run("revoke", id);
  const now = Date.now();
  const state = (i: Invite) =>
    i.revoked ? <Badge color="gray">revoked</Badge>
      : Date.parse(i.expiresAt) <= now ? <Badge color="gray">expired</Badge>
        : i.maxUses && i.uses >= i.maxUses ? <Badge color="gray">used up</Badge>
          : <Badge color="green">active</Badge>;

  return (
    <Modal opened={props.opened} onClose={props.onClose} title={`Invite people to ${props.partyName}`} size="lg" centered>
      <Stack>
        <ErrorNote error={error} />
        <form onSubmit={create}>
          <Group align="flex-end" grow>
            <Select label="Expires after" data={expiries} value={expires} onChange={(v) => v && setExpires(v)} allowDeselect={false} />
            <NumberInput label="Max uses" description="0 means no limit" min={0} max={1000} value={maxUses} onChange={setMaxUses} />
            <Button type="submit" loading={busy}>Create link</Button>
          </Group>
        </form>
        {created && (
          <Group gap="xs" wrap="nowrap">
            <TextInput readOnly value={created.link} aria-label="Invite link" style={{ flex: 1 }} data-testid="invite-link" onFocus={(e) => e.currentTarget.select()} />
            <CopyButton value={created.link}>
              {({ copied, copy }) => (
                <Button onClick={copy} color={copied ? "teal" : undefined} leftSection={copied ? <IconCheck size={16} /> : <IconCopy size={16} />}>
                  {copied ? "Copied" : "Copy"}
                </Button>
              )}
            </CopyButton>
          </Group>
        )}
        {invites.length > 0 && (
          <Table.ScrollContainer minWidth={420}>
            <Table>
              <Table.Thead>
                <Table.Tr><Table.Th>Expires</Table.Th><Table.Th>Uses</Table.Th><Table.Th>State</Table.Th><Table.Th /></Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {invites.map((i) => (
                  <Table.Tr key={i.id}>
                    <Table.Td>{new Date(i.expiresAt).toLocaleString()}</Table.Td>
                    <Table.Td>{i.uses}{i.maxUses ? ` / ${i.maxUses}` : ""}</Table.Td>
                    <Table.Td>{state(i)}</Table.Td>
                    <Table.Td>
                      {!i.revoked && (
                        <Tooltip label="Revoke">
                          <ActionIcon variant="subtle" color="red" onClick={() => revoke(i.id)} aria-label="Revoke invite">
                            <IconTrash size={16} />
                          </ActionIcon>
                        </Tooltip>
                      )}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </Stack>
    </Modal>
  );
}

/** Makes a member an admin, or changes how many seats an admin holds. */
export function AdminDialog(props: {
  opened: boolean;
  party: Party;
  member: { memberId: string; name: string; seats: number; isAdmin: boolean } | null;
  onClose: () => void;
  onSubmit: (seats: number) => Promise<void>;
}) {
  const { party, member } = props;
  const taken = new Set(party.members.map((m) => m.seat));
  const delegatedFree = party.members.reduce((n, m) => n + (m.role === "admin" ? (m.freeSeats ?? 0) : 0), 0);
  const limit = party.limits?.members ?? 10;
  const ownerFree = limit - taken.size - delegatedFree;
  const most = (member?.isAdmin ? member.seats : 0) + Math.max(ownerFree, 0);
  const [seats, setSeats] = useState<number | string>(2);
  const { busy, error, setError, run } = useAction(async () => {
    await props.onSubmit(Number(seats));
    props.onClose();
  });
  useEffect(() => {
    if (props.opened && member) {
      setSeats(member.isAdmin ? member.seats : Math.min(2, most));
      setError(null);
    }
  }, [props.opened, member?.memberId]); // eslint-disable-line react-hooks/exhaustive-deps
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run();
  };
  return (
    <Modal opened={props.opened} onClose={props.onClose} centered
      title={member?.isAdmin ? `Seats for ${member.name}` : `Make ${member?.name ?? ""} an admin`}>
      <form onSubmit={submit}>
        <Stack>
          <ErrorNote error={error} />
          <Text size="sm">
            An admin can invite people and let them in while your node is offline, manage topics, and remove the
            people they let in. Each seat is room for one person they can let in.
          </Text>
          <NumberInput label="Seats" description={`Up to ${most} (the free seats you hold)`} min={0} max={most}
            value={seats} onChange={setSeats} data-autofocus />
          <Group justify="flex-end">
            <Button variant="default" onClick={props.onClose}>Cancel</Button>
            <Button type="submit" loading={busy}>{member?.isAdmin ? "Save" : "Make admin"}</Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

/** Who can let people in, and how many more each can. */
export function AdmittersDialog(props: { opened: boolean; party: Party; onClose: () => void }) {
  const { party } = props;
  const limit = party.limits?.members ?? 10;
  const admins = party.members.filter((m) => m.role === "admin");
  const delegatedFree = admins.reduce((n, m) => n + (m.freeSeats ?? 0), 0);
  const ownerFree = Math.max(limit - party.members.length - delegatedFree, 0);
  const owner = party.members.find((m) => m.role === "owner");
  return (
    <Modal opened={props.opened} onClose={props.onClose} title="Who can let people in" centered>
      <Stack>
        <Text size="sm">
          {party.members.length} of {limit} seats are taken. Each of these people can invite and admit others, even
          while the rest are offline, into the seats they hold:
        </Text>
        <Table data-testid="admitters">
          <Table.Thead>
            <Table.Tr><Table.Th>Who</Table.Th><Table.Th>Role</Table.Th><Table.Th>Free seats</Table.Th></Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {owner && (
              <Table.Tr><Table.Td>{owner.label || owner.displayName}</Table.Td><Table.Td>owner</Table.Td><Table.Td>{ownerFree}</Table.Td></Table.Tr>
            )}
            {admins.map((m) => (
              <Table.Tr key={m.memberId}>
                <Table.Td>{m.label || m.displayName}</Table.Td><Table.Td>admin</Table.Td><Table.Td>{m.freeSeats ?? 0} of {m.seats ?? 0}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
        <Group justify="flex-end">
          <Button variant="default" onClick={props.onClose}>Close</Button>
        </Group>
      </Stack>
    </Modal>
  );
}

/** This browser's notification setting for a party, and the browser's
 * permission, asked for here (when the user turns them on), never on load. */
export function NotificationsDialog(props: { opened: boolean; party: Party; me: string; onClose: () => void }) {
  const { party, me } = props;
  const [level, setLevel] = useState<NotifyLevel>(() => notifyLevel(me, party.id));
  const [permission, setPermission] = useState(() => (typeof Notification === "undefined" ? "unsupported" : Notification.permission));
  useEffect(() => {
    if (props.opened) setLevel(notifyLevel(me, party.id));
  }, [props.opened, me, party.id]);
  const choose = (v: string) => {
    const l = v as NotifyLevel;
    setLevel(l);
    setNotifyLevel(me, party.id, l);
  };
  const allow = async () => setPermission(await Notification.requestPermission());
  return (
    <Modal opened={props.opened} onClose={props.onClose} title={`Notifications for ${party.name}`} centered>
      <Stack>
        <Text size="sm">Desktop notifications for new messages while this tab is in the background:</Text>
        <SegmentedControl value={level} onChange={choose} data-testid="notify-level"
          data={[{ value: "all", label: "All messages" }, { value: "mentions", label: "Only @mentions" }, { value: "none", label: "Nothing" }]} />
        {level !== "none" && permission === "default" && (
          <Button variant="light" onClick={() => void allow()} data-testid="allow-notifications">Allow desktop notifications in this browser</Button>
        )}
        {level !== "none" && permission === "denied" && (
          <Text size="xs" c="orange">This browser blocks notifications from this page; allow them in its site settings.</Text>
        )}
        {permission === "unsupported" && <Text size="xs" c="dimmed">This browser does not support desktop notifications.</Text>}
        <Group justify="flex-end">
          <Button variant="default" onClick={props.onClose}>Close</Button>
        </Group>
      </Stack>
    </Modal>
  );
}

/** Reads an invite link (or its token) pasted by the user, for when the
 * link names another node's address (a friend's node on another port). */
export function inviteToken(text: string): string {
  const t = text.trim();
  const i = t.lastIndexOf("#");
  return (i >= 0 ? t.slice(i + 1) : t).replace(/^token=/, "");
}

export function JoinLinkDialog(props: { opened: boolean; onClose: () => void; onToken: (token: string) => void }) {
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (props.opened) {
      setText("");
      setError(null);
    }
  }, [props.opened]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const token = inviteToken(text);
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) {
      setError("That is not an invite link. Copy the whole link you were sent and paste it here.");
      return;
    }
    props.onToken(token);
    props.onClose();
  };
  return (
    <Modal opened={props.opened} onClose={props.onClose} title="Join with an invite link" centered>
      <form onSubmit={submit}>
        <Stack>
          <ErrorNote error={error} />
          <Text size="sm" c="dimmed">Paste the link you were sent, even if it names another address: your own node joins for you.</Text>
          <TextInput label="Invite link" required value={text} onChange={(e) => setText(e.currentTarget.value)} data-autofocus data-testid="invite-paste" />
          <Group justify="flex-end">
            <Button variant="default" onClick={props.onClose}>Cancel</Button>
            <Button type="submit">Continue</Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
