// Sign up, sign in, forgot password, and the pages that links from mails
// and OAuth providers land on.
import { useEffect, useRef, useState, type FormEvent, type ReactNode } from "react";
import { Link, Navigate, useLocation, useNavigate } from "react-router-dom";
import {
  Alert, Anchor, Button, Center, Divider, Group, Loader, Paper, PasswordInput, Stack, Text, TextInput, Title,
} from "@mantine/core";
import { IconBrandGithub, IconBrandGoogle, IconCheck, IconAlertCircle } from "@tabler/icons-react";
import { ApiError, routes } from "../api";
import { announceAccountChange, useAuth } from "../auth";
import { describe, sentenceFor } from "../errors";
import { useAction } from "../useAction";
import { peekNext } from "../next";

export function Frame({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Center mih="100vh" p="md" className="auth-bg">
      <Paper withBorder shadow="md" p="xl" w="100%" maw={420} component="main">
        <Stack gap="md">
          <Group gap="xs" justify="center">
            <img src="/favicon.svg" alt="" width={32} height={32} />
            <Text fw={700} size="lg">ChatterBox</Text>
          </Group>
          <Title order={1} size="h3" ta="center">{title}</Title>
          {children}
        </Stack>
      </Paper>
    </Center>
  );
}

export function ErrorNote({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <Alert color="red" icon={<IconAlertCircle size={18} />} role="alert" data-testid="error">
      {error}
    </Alert>
  );
}

function Providers() {
  const [providers, setProviders] = useState<string[]>([]);
  useEffect(() => {
    routes.providers().then((p) => setProviders(p.providers), () => setProviders([]));
  }, []);
  if (providers.length === 0) return null;
  const icon = (p: string) => (p === "github" ? <IconBrandGithub size={18} /> : p === "google" ? <IconBrandGoogle size={18} /> : null);
  const label = (p: string) => (p === "github" ? "GitHub" : p === "google" ? "Google" : p);
  return (
    <>
      <Divider label="or" labelPosition="center" />
      {providers.map((p) => (
        <Button key={p} component="a" href={`/api/auth/oauth/${p}/start`} variant="default" leftSection={icon(p)}>
          Continue with {label(p)}
        </Button>
      ))}
    </>
  );
}

function useRedirectWhenSignedIn() {
  const { state } = useAuth();
  return state.status === "signedIn" ? <Navigate to={peekNext() ?? "/"} replace /> : null;
}

export function SignIn() {
  const { signedIn, state } = useAuth();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const action = useAction(async () => {
    await signedIn(await routes.login(email, password));
  });
  const { busy, run } = action;
  const error = action.error ?? (state.status === "signedOut" ? state.reason ?? null : null);
  const redirect = useRedirectWhenSignedIn();
  if (redirect) return redirect;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run();
  };
  return (
    <Frame title="Sign in">
      <form onSubmit={submit}>
        <Stack>
          <ErrorNote error={error} />
          <TextInput label="Email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.currentTarget.value)} autoFocus />
          <PasswordInput label="Password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.currentTarget.value)} />
          <Button type="submit" loading={busy}>Sign in</Button>
        </Stack>
      </form>
      <Providers />
      <Group justify="space-between">
        <Anchor component={Link} to="/forgot-password" size="sm">Forgot password?</Anchor>
        <Anchor component={Link} to="/signup" size="sm">Create an account</Anchor>
      </Group>
    </Frame>
  );
}

export function SignUp() {
  const { signedIn } = useAuth();
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const { busy, error, run } = useAction(async () => {
    await routes.register(email, password, name);
    try {
      await signedIn(await routes.login(email, password));
    } catch (err) {
      // Registration answers the same for a taken address (its owner gets
      // a mail); only signing in tells, and only with the right password.
      if (err instanceof ApiError && err.code === "invalid_credentials") {
        throw new ApiError(409, "email_maybe_taken", "This address may already have an account: we sent it a mail. Sign in, or reset the password from the sign-in page.");
      }
      throw err;
    }
  });
  const redirect = useRedirectWhenSignedIn();
  if (redirect) return redirect;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run();
  };
  return (
    <Frame title="Create your account">
      <form onSubmit={submit}>
        <Stack>
          <ErrorNote error={error} />
          <TextInput label="Display name" description="What others in your parties see." autoComplete="nickname" required maxLength={64} value={name} onChange={(e) => setName(e.currentTarget.value)} autoFocus />
          <TextInput label="Email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.currentTarget.value)} />
          <PasswordInput label="Password" description="A long passphrase is best." autoComplete="new-password" required value={password} onChange={(e) => setPassword(e.currentTarget.value)} />
          <Button type="submit" loading={busy}>Create account</Button>
        </Stack>
      </form>
      <Providers />
      <Text size="sm" ta="center">
        Have an account? <Anchor component={Link} to="/signin">Sign in</Anchor>
      </Text>
    </Frame>
  );
}

export function ForgotPassword() {
  const [email, setEmail] = useState("");
  const [done, setDone] = useState<string | null>(null);
  const { busy, error, run } = useAction(async () => {
    const r = await routes.forgotPassword(email);
    setDone(r.message || "If an account has that email, a link to reset its password is on its way.");
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run();
  };
  return (
    <Frame title="Reset your password">
      {done ? (
        <Alert color="green" icon={<IconCheck size={18} />} role="status">{done}</Alert>
      ) : (
        <form onSubmit={submit}>
          <Stack>
            <ErrorNote error={error} />
            <Text size="sm">Enter your account's email and we will send you a link to choose a new password.</Text>
            <TextInput label="Email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.currentTarget.value)} autoFocus />
            <Button type="submit" loading={busy}>Send reset link</Button>
          </Stack>
        </form>
      )}
      <Anchor component={Link} to="/signin" size="sm" ta="center">Back to sign in</Anchor>
    </Frame>
  );
}

/** Reads the token from the URL fragment once and removes it from the
 * address bar and history. */
function useFragmentParams(): URLSearchParams {
  const loc = useLocation();
  const ref = useRef<URLSearchParams | null>(null);
  if (ref.current === null) {
    ref.current = new URLSearchParams(loc.hash.slice(1));
    history.replaceState(history.state, "", loc.pathname);
  }
  return ref.current;
}

export function VerifyEmail() {
  const params = useFragmentParams();
  const { reload, state } = useAuth();
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const started = useRef(false);
  useEffect(() => {
    if (started.current) return;
    started.current = true;
    routes.verifyEmail(params.get("token") ?? "").then(
      (a) => {
        setResult({ ok: true, text: `Thank you, ${a.displayName}: your email ${a.email} is verified.` });
        void reload();
        announceAccountChange(); // an open ChatterBox tab drops its banner at once
      },
      (e) => setResult({ ok: false, text: describe(e) }),
    );
  }, [params, reload]);
  return (
    <Frame title="Email verification">
      {!result ? <Center><Loader aria-label="Checking the link" /></Center> : (
        <Alert color={result.ok ? "green" : "red"} role={result.ok ? "status" : "alert"} data-testid={result.ok ? "done" : "error"}>
          {result.text}
        </Alert>
      )}
      <Button component={Link} to={state.status === "signedIn" ? "/" : "/signin"} variant="light">
        {state.status === "signedIn" ? "Open ChatterBox" : "Sign in"}
      </Button>
    </Frame>
  );
}

export function ResetPassword() {
  const params = useFragmentParams();
  const navigate = useNavigate();
  const [password, setPassword] = useState("");
  const [done, setDone] = useState<string | null>(null);
  const { busy, error, run } = useAction(async () => {
    setDone((await routes.resetPassword(params.get("token") ?? "", password)).message);
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run();
  };
  return (
    <Frame title="Choose a new password">
      {done ? (
        <>
          <Alert color="green" role="status" data-testid="done">{done}</Alert>
          <Button onClick={() => navigate("/signin")}>Sign in</Button>
        </>
      ) : (
        <form onSubmit={submit}>
          <Stack>
            <ErrorNote error={error} />
            <PasswordInput label="New password" autoComplete="new-password" required value={password} onChange={(e) => setPassword(e.currentTarget.value)} autoFocus />
            <Button type="submit" loading={busy}>Change password</Button>
          </Stack>
        </form>
      )}
    </Frame>
  );
}

export function OAuthDone() {
  const params = useFragmentParams();
  const { signedIn } = useAuth();
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(params.get("error") ? sentenceFor(params.get("error") ?? "") : null);
  const started = useRef(false);
  useEffect(() => {
    if (started.current || params.get("error")) return;
    started.current = true;
    routes.oauthExchange(params.get("code") ?? "").then(
      async (t) => {
        await signedIn(t);
        navigate(peekNext() ?? "/", { replace: true });
      },
      (e) => setError(describe(e)),
    );
  }, [params, signedIn, navigate]);
  return (
    <Frame title="Signing in">
      {error ? <ErrorNote error={error} /> : <Center><Loader aria-label="Signing in" /></Center>}
      {error && <Button component={Link} to="/signin">Back to sign in</Button>}
    </Frame>
  );
}
