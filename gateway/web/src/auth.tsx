// Who is signed in, for the whole app.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { clearTokens, hasStoredSession, routes, setSignedOutHandler, storeTokens, type Account, type Tokens } from "./api";

type AuthState =
  | { status: "loading" }
  | { status: "signedOut"; reason?: string }
  | { status: "signedIn"; account: Account };

interface AuthApi {
  state: AuthState;
  account: Account | null;
  /** Keeps the tokens of a finished sign-in and loads the account. */
  signedIn: (t: Tokens) => Promise<void>;
  signOut: () => Promise<void>;
  reload: () => Promise<void>;
}

const Ctx = createContext<AuthApi | null>(null);

/** The BroadcastChannel on which a tab tells the others of this origin
 * that the account changed (its email was verified). */
const accountChannel = "chatterbox.account";

/** Tells the other open tabs to load the account again. */
export function announceAccountChange() {
  const c = new BroadcastChannel(accountChannel);
  c.postMessage("changed");
  c.close();
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<AuthState>({ status: "loading" });

  const reload = useCallback(async () => {
    if (!hasStoredSession()) {
      setState({ status: "signedOut" });
      return;
    }
    try {
      setState({ status: "signedIn", account: await routes.me() });
    } catch (e) {
      // A network failure keeps the stored session for the next try.
      setState({ status: "signedOut", reason: (e as Error).message });
    }
  }, []);

  useEffect(() => {
    setSignedOutHandler(() => setState({ status: "signedOut", reason: "Your session has ended. Sign in again." }));
    void reload();
    // Another tab signing in or out changes the stored refresh token.
    const onStorage = (e: StorageEvent) => {
      if (e.key === "chatterbox.refreshToken" && (e.newValue === null) !== (e.oldValue === null)) void reload();
    };
    window.addEventListener("storage", onStorage);
    // Another tab verified the email (or changed the account otherwise).
    const channel = new BroadcastChannel(accountChannel);
    channel.onmessage = () => void reload();
    return () => {
      window.removeEventListener("storage", onStorage);
      channel.close();
    };
  }, [reload]);

  const signedIn = useCallback(async (t: Tokens) => {
    storeTokens(t);
    setState({ status: "signedIn", account: t.account ?? (await routes.me()) });
  }, []);

  const signOut = useCallback(async () => {
    try {
      await routes.logout();
    } catch {
      /* the session ends locally either way */
    }
    clearTokens();
    setState({ status: "signedOut" });
  }, []);

  const value = useMemo<AuthApi>(
    () => ({ state, account: state.status === "signedIn" ? state.account : null, signedIn, signOut, reload }),
    [state, signedIn, signOut, reload],
  );
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useAuth(): AuthApi {
  const v = useContext(Ctx);
  if (!v) throw new Error("useAuth outside AuthProvider");
  return v;
}
