// /join#<token>: an invite link. Shows the party's name, joins, waits while
// the owner's node is offline and moves on by itself when admitted: it
// listens on the live connection for its own member.joined event.
import { useCallback, useEffect, useRef, useState } from "react";
import { Link, useLocation, useNavigate } from "react-router-dom";
import { Alert, Button, Center, Group, Loader, Stack, Text } from "@mantine/core";
import { IconClock } from "@tabler/icons-react";
import { routes, type InvitePreview, type InviteStatus, type Party } from "../api";
import { useAuth } from "../auth";
import { describe, sentenceFor } from "../errors";
import { Live } from "../live";
import { clearNext, rememberNext } from "../next";
import { ErrorNote, Frame } from "./AuthPages";

/** A new invite pasted into a tab already on this page shows anew. */
export function Join() {
  const loc = useLocation();
  return <JoinInvite key={loc.hash} />;
}

function JoinInvite() {
  const loc = useLocation();
  const navigate = useNavigate();
  const { state, account } = useAuth();
  const token = useRef(loc.hash.slice(1).replace(/^token=/, "")).current;
  const [preview, setPreview] = useState<InvitePreview | null>(null);
  const [error, setError] = useState<string | null>(token ? null : "This invite link is not complete. Copy the whole link and open it again.");
  const [phase, setPhase] = useState<"idle" | "joining" | "pending">("idle");
  const [pending, setPending] = useState<Party | null>(null);
  // What a node of the party says of the invite (signed in only): null
  // while asking.
  const [status, setStatus] = useState<InviteStatus | null>(null);

  useEffect(() => {
    if (!token) return;
    routes.previewInvite(token).then(setPreview, (e) => setError(describe(e)));
  }, [token]);
  useEffect(() => {
    if (!token || state.status !== "signedIn" || !preview) return;
    routes.inviteStatus(token).then(setStatus, () => setStatus({ checked: false }));
  }, [token, state.status, preview]);
  const refused = status?.code ? sentenceFor(status.code) : null;

  const open = useCallback((p: Party) => {
    clearNext();
    const topic = p.topics[0]?.id;
    navigate(topic ? `/p/${p.id}/${topic}` : `/p/${p.id}`, { replace: true });
  }, [navigate]);

  const join = async () => {
    setPhase("joining");
    setError(null);
    try {
      const r = await routes.acceptInvite(token);
      if ("status" in r && r.status === "pending" && "party" in r) {
        setPending(r.party);
        setPhase("pending");
      } else {
        open(r as Party);
      }
    } catch (e) {
      setError(describe(e));
      setPhase("idle");
    }
  };

  // While pending, the node retries on its own; listen for the admission.
  // The party is read once when the connection opens (the admission may
  // have come first) and after every reconnect.
  useEffect(() => {
    if (phase !== "pending" || !pending || !account) return;
    const live = new Live();
    const check = async () => {
      try {
        const p = await routes.party(pending.id);
        if (p.status === "active") open(p);
        else setPending(p);
      } catch (e) {
        setError(describe(e));
        setPhase("idle");
      }
    };
    const offStatus = live.onStatus((s) => {
      if (s === "online") void check();
    });
    const off = live.subscribe((ev) => {
      if (ev.type === "resync" || (ev.type === "member.joined" && ev.partyId === pending.id && ev.data.memberId === account.memberId)) {
        void check();
      }
    });
    live.start();
    return () => {
      off();
      offStatus();
      live.stop();
    };
  }, [phase, pending?.id, account, open]); // eslint-disable-line react-hooks/exhaustive-deps

  if (state.status === "loading") return <Center mih="100vh"><Loader /></Center>;
  const signedOut = state.status !== "signedIn";
  const rememberHere = () => rememberNext("/join#" + token);

  return (
    <Frame title={preview ? `Join ${preview.partyName}` : "Join a party"}>
      <ErrorNote error={error} />
      {preview && phase !== "pending" && (
        <Text ta="center" c="dimmed" size="sm" data-testid="invite-standing">
          You were invited to <b data-testid="invite-party">{preview.partyName}</b>.{" "}
          {signedOut ? <>The invite says it is valid until {new Date(preview.expiresAt).toLocaleString()}.</>
            : !status ? <>Checking the invite with the party…</>
            : refused ? null
            : status.checked ? <>The invite is valid until {new Date(preview.expiresAt).toLocaleString()}.</>
            : <>The party's nodes cannot be reached to check it now; it says it is valid until{" "}
                {new Date(preview.expiresAt).toLocaleString()}. You can still try.</>}
        </Text>
      )}
      {refused && phase !== "pending" && <Alert color="red" role="alert" data-testid="invite-refused">{refused}</Alert>}
      {phase === "pending" && (
        <Alert color="yellow" icon={<IconClock size={18} />} role="status" data-testid="pending" title="Waiting for the owner">
          The party owner's node is offline right now. Your request is saved and this page moves on by itself as soon as the owner's
          node admits you. You can close it; the party appears in your list when you are in.
          {pending?.lastError && pending.attempts ? <Text size="xs" mt="xs">Tried {pending.attempts} times so far.</Text> : null}
        </Alert>
      )}
      {preview && signedOut && (
        <Stack>
          <Text size="sm" ta="center">Sign in or create an account on this node to join.</Text>
          <Group grow>
            <Button component={Link} to="/signin" onClick={rememberHere}>Sign in</Button>
            <Button component={Link} to="/signup" variant="light" onClick={rememberHere}>Create account</Button>
          </Group>
        </Stack>
      )}
      {preview && !signedOut && phase !== "pending" && !refused && (
        <Button onClick={join} loading={phase === "joining"} data-testid="join">Join {preview.partyName}</Button>
      )}
      {!signedOut && <Button component={Link} to="/" variant="subtle">Back to your parties</Button>}
    </Frame>
  );
}
