// Landing pages for links that arrive by mail or from an OAuth provider.
// The token travels in the URL fragment (never sent to a server); this
// script posts it to the node's API and says what happened.
"use strict";
(function () {
  const status = document.getElementById("status");
  const params = new URLSearchParams(location.hash.slice(1));
  function say(text, isError) {
    status.textContent = text;
    status.className = isError ? "error" : "";
  }
  async function post(path, body) {
    const res = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const data = res.status === 204 ? {} : await res.json();
    if (!res.ok) throw new Error((data.error && data.error.message) || "Something went wrong.");
    return data;
  }
  // Forget the token in the address bar and history once it is read.
  history.replaceState(null, "", location.pathname);

  switch (location.pathname) {
    case "/verify-email":
      post("/api/auth/verify-email", { token: params.get("token") || "" })
        .then((a) => say("Thank you, " + a.displayName + ": your email " + a.email + " is verified."))
        .catch((e) => say(e.message, true));
      break;
    case "/reset-password": {
      const form = document.getElementById("reset");
      const token = params.get("token") || "";
      say("Choose a new password.");
      form.hidden = false;
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        post("/api/auth/reset-password", { token, password: document.getElementById("password").value })
          .then((r) => { form.hidden = true; say(r.message); })
          .catch((e) => say(e.message, true));
      });
      break;
    }
    case "/oauth/done":
      if (params.get("error")) {
        say(params.get("message") || "Signing in failed.", true);
        break;
      }
      post("/api/auth/oauth/exchange", { code: params.get("code") || "" })
        .then((t) => {
          sessionStorage.setItem("chatterbox.refreshToken", t.refreshToken);
          say("Signed in as " + t.account.displayName + " (" + t.account.email + ").");
        })
        .catch((e) => say(e.message, true));
      break;
    default:
      say("Nothing to do here.", true);
  }
})();
