// The node's REST API, as the app uses it. Access tokens live in memory;
// the refresh token is kept in localStorage so a reload stays signed in.
// Refresh tokens rotate and reuse of an old one ends the session, so
// tabs take a Web Lock around refreshing and reread the stored token.
import type { components, paths } from "./api/schema.gen";
import { sentenceFor } from "./errors";

// The API's types are generated from gateway/openapi.yaml (npm run gen:api).
type Schemas = components["schemas"];
export type Account = Schemas["Account"];
export type Tokens = Schemas["Tokens"];
export type Member = Schemas["Member"];
export type Topic = Schemas["Topic"];
export type Party = Schemas["Party"];
export type Message = Schemas["Message"];
export type Invite = Schemas["Invite"];
export type Direct = Schemas["Direct"];
export type SearchResults = Schemas["SearchResults"];
export type FileRef = Schemas["FileRef"];
export type FileView = Schemas["FileView"];
export type FileChoice = Schemas["FileChoice"];
export type SearchHit = Schemas["SearchHit"];
export type NodeInfo = paths["/api/node"]["get"]["responses"]["200"]["content"]["application/json"];
export type PartyHealth = paths["/api/node/parties"]["get"]["responses"]["200"]["content"]["application/json"]["parties"][number];
/** A change the node tells of on the live connection. */
export type Event = Schemas["Event"];
export type InviteStatus = paths["/api/invites/status"]["post"]["responses"]["200"]["content"]["application/json"];
export type InvitePreview = paths["/api/invites/preview"]["post"]["responses"]["200"]["content"]["application/json"];
type AcceptResult = paths["/api/invites/accept"]["post"]["responses"];

/** An API failure, with the stable code and a sentence for people. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const REFRESH_KEY = "chatterbox.refreshToken";

let access: { token: string; expires: number } | null = null;
let onSignedOut: () => void = () => {};

/** Sets what happens when the session ends under the app's feet. */
export function setSignedOutHandler(fn: () => void) {
  onSignedOut = fn;
}

export function hasStoredSession(): boolean {
  return localStorage.getItem(REFRESH_KEY) !== null;
}

export function storeTokens(t: Tokens) {
  access = { token: t.accessToken, expires: Date.parse(t.accessExpiresAt) };
  localStorage.setItem(REFRESH_KEY, t.refreshToken);
}

export function clearTokens() {
  access = null;
  localStorage.removeItem(REFRESH_KEY);
}

async function withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
  if (navigator.locks) return navigator.locks.request("chatterbox-refresh", fn);
  return fn();
}

let refreshing: Promise<string | null> | null = null;

/** Returns a fresh access token, refreshing if needed; null when signed out. */
export async function accessToken(): Promise<string | null> {
  if (access && access.expires - Date.now() > 30_000) return access.token;
  if (!refreshing) {
    refreshing = withRefreshLock(async () => {
      const stored = localStorage.getItem(REFRESH_KEY);
      if (!stored) return null;
      const res = await raw("POST", "/api/auth/refresh", { refreshToken: stored });
      if (res.ok) {
        storeTokens((await res.json()) as Tokens);
        return access!.token;
      }
      // Another tab may have rotated the token while we waited.
      const now = localStorage.getItem(REFRESH_KEY);
      if (now && now !== stored) {
        const again = await raw("POST", "/api/auth/refresh", { refreshToken: now });
        if (again.ok) {
          storeTokens((await again.json()) as Tokens);
          return access!.token;
        }
      }
      if (res.status === 401 || res.status === 400) {
        clearTokens();
        onSignedOut();
        return null;
      }
      throw await toError(res);
    }).finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

async function raw(method: string, path: string, body?: unknown, token?: string): Promise<Response> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers["Authorization"] = "Bearer " + token;
  try {
    return await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "network", sentenceFor("network"));
  }
}

async function toError(res: Response): Promise<ApiError> {
  let code = "http_" + res.status;
  let message = "";
  try {
    const data = await res.json();
    if (data && data.error) {
      code = data.error.code || code;
      message = data.error.message || "";
    }
  } catch {
    /* not JSON: keep the status */
  }
  if (res.status === 429) {
    const wait = Number(res.headers.get("Retry-After"));
    if (wait > 0 && !message) message = `Too many attempts. Try again in ${wait} seconds.`;
  }
  return new ApiError(res.status, code, message || sentenceFor(code));
}

/** Sends a request (auth: with the access token, refreshed once if the
 * node refuses it); throws ApiError unless the answer is 2xx. */
async function call(method: string, path: string, body?: unknown, auth = true): Promise<Response> {
  let token: string | undefined;
  if (auth) {
    const t = await accessToken();
    if (!t) throw new ApiError(401, "unauthorized", sentenceFor("unauthorized"));
    token = t;
  }
  let res = await raw(method, path, body, token);
  if (res.status === 401 && auth) {
    // The access token may have been revoked or expired early: refresh once.
    access = null;
    const t = await accessToken();
    if (!t) throw new ApiError(401, "unauthorized", sentenceFor("unauthorized"));
    res = await raw(method, path, body, t);
  }
  if (!res.ok) throw await toError(res);
  return res;
}

/** Uploads a file to attach (raw bytes, with upload progress from 0 to
 * 1), answering its reference. */
export async function uploadFile(file: File, onProgress: (done: number) => void): Promise<FileRef> {
  const send = (token: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const x = new XMLHttpRequest();
      x.open("POST", `/api/files?name=${encodeURIComponent(file.name)}`);
      x.setRequestHeader("Authorization", "Bearer " + token);
      x.setRequestHeader("Content-Type", "application/octet-stream");
      x.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
      x.onload = () => resolve({ status: x.status, text: x.responseText });
      x.onerror = () => reject(new ApiError(0, "network", sentenceFor("network")));
      x.send(file);
    });
  let token = await accessToken();
  if (!token) throw new ApiError(401, "unauthorized", sentenceFor("unauthorized"));
  let res = await send(token);
  if (res.status === 401) {
    access = null;
    token = await accessToken();
    if (!token) throw new ApiError(401, "unauthorized", sentenceFor("unauthorized"));
    res = await send(token);
  }
  if (res.status !== 201) throw await toError(new Response(res.text, { status: res.status }));
  onProgress(1);
  return JSON.parse(res.text) as FileRef;
}

/** Reads an attached file (from this node, or fetched by it from the
 * party's other nodes), with progress from 0 to 1. */
export async function fetchFile(partyId: string, f: FileView, onProgress?: (done: number) => void): Promise<Blob> {
  const res = await call("GET", `/api/parties/${partyId}/files/${f.hash}?name=${encodeURIComponent(f.name)}`);
  if (!res.body || !onProgress) return res.blob();
  const reader = res.body.getReader();
  const parts: BlobPart[] = [];
  let got = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    got += value.length;
    onProgress(Math.min(1, got / Math.max(1, f.size)));
  }
  return new Blob(parts, { type: res.headers.get("Content-Type") ?? "application/octet-stream" });
}

/** Saves a blob as a file in the browser's downloads. */
export function saveBlob(blob: Blob, name: string) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  window.setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** Downloads an export archive (one party, or everything) as a file the
 * browser saves, named as the node names it. */
export async function saveExport(partyId?: string): Promise<void> {
  const res = await call("GET", partyId ? `/api/parties/${partyId}/export` : "/api/export");
  const name = /filename="?([^";]+)"?/.exec(res.headers.get("Content-Disposition") ?? "")?.[1] ?? "chatterbox-export.zip";
  saveBlob(await res.blob(), name);
}

/** Calls the API; auth adds the access token. Answers the JSON, or
 * undefined for 204. Throws ApiError with a human sentence. */
export async function api<T>(method: string, path: string, body?: unknown, auth = true): Promise<T> {
  const res = await call(method, path, body, auth);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const routes = {
  me: () => api<Account>("GET", "/api/me"),
  providers: () => api<{ providers: string[] }>("GET", "/api/auth/providers", undefined, false),
  login: (email: string, password: string) => api<Tokens>("POST", "/api/auth/login", { email, password }, false),
  register: (email: string, password: string, displayName: string) =>
    api<{ email: string; status: string }>("POST", "/api/auth/register", { email, password, displayName }, false),
  logout: () => api<void>("POST", "/api/auth/logout"),
  rotateKey: () => api<{ keyFingerprint: string; parties: number }>("POST", "/api/me/encryption-key"),
  verifyEmail: (token: string) => api<Account>("POST", "/api/auth/verify-email", { token }, false),
  resendVerification: () => api<{ status: string }>("POST", "/api/auth/resend-verification"),
  forgotPassword: (email: string) => api<{ message: string }>("POST", "/api/auth/forgot-password", { email }, false),
  resetPassword: (token: string, password: string) =>
    api<{ message: string }>("POST", "/api/auth/reset-password", { token, password }, false),
  oauthExchange: (code: string) => api<Tokens>("POST", "/api/auth/oauth/exchange", { code }, false),

  parties: () => api<{ parties: Party[] }>("GET", "/api/parties"),
  party: (id: string) => api<Party>("GET", `/api/parties/${id}`),
  createParty: (name: string) => api<Party>("POST", "/api/parties", { name }),
  renameParty: (id: string, name: string) => api<Party>("PATCH", `/api/parties/${id}`, { name }),
  deleteParty: (id: string) => api<void>("DELETE", `/api/parties/${id}`),
  leaveParty: (id: string) => api<void>("POST", `/api/parties/${id}/leave`),
  kick: (id: string, memberId: string) => api<void>("DELETE", `/api/parties/${id}/members/${memberId}`),
  unban: (id: string, memberId: string) => api<void>("DELETE", `/api/parties/${id}/bans/${memberId}`),
  setAdmin: (id: string, memberId: string, seats?: number) =>
    api<Party>("PUT", `/api/parties/${id}/admins/${memberId}`, seats === undefined ? {} : { seats }),
  removeAdmin: (id: string, memberId: string) => api<Party>("DELETE", `/api/parties/${id}/admins/${memberId}`),
  transfer: (id: string, memberId: string) => api<Party>("POST", `/api/parties/${id}/transfer`, { memberId }),

  node: () => api<NodeInfo>("GET", "/api/node", undefined, false),
  nodeParties: () => api<{ parties: PartyHealth[] }>("GET", "/api/node/parties"),
  directs: () => api<{ dms: Direct[] }>("GET", "/api/dms"),
  openDirect: (memberId: string) => api<Direct>("POST", "/api/dms", { memberId }),
  closeDirect: (id: string) => api<void>("DELETE", `/api/dms/${id}`),

  createTopic: (id: string, name: string) => api<Topic>("POST", `/api/parties/${id}/topics`, { name }),
  renameTopic: (id: string, topic: string, name: string) =>
    api<Topic>("PATCH", `/api/parties/${id}/topics/${topic}`, { name }),
  deleteTopic: (id: string, topic: string) => api<void>("DELETE", `/api/parties/${id}/topics/${topic}`),

  invites: (id: string) => api<{ invites: Invite[] }>("GET", `/api/parties/${id}/invites`),
  createInvite: (id: string, expiresIn: number, maxUses: number) =>
    api<Invite>("POST", `/api/parties/${id}/invites`, { expiresIn, maxUses }),
  revokeInvite: (id: string, invite: string) => api<void>("DELETE", `/api/parties/${id}/invites/${invite}`),
  previewInvite: (token: string) => api<InvitePreview>("POST", "/api/invites/preview", { token }, false),
  inviteStatus: (token: string) => api<InviteStatus>("POST", "/api/invites/status", { token }),
  acceptInvite: (token: string) =>
    api<AcceptResult["200"]["content"]["application/json"] | AcceptResult["202"]["content"]["application/json"]>(
      "POST", "/api/invites/accept", { token }),

  messages: (id: string, topic: string, before?: string, limit = 50) =>
    api<{ messages: Message[]; nextCursor: string; newerCursor?: string }>(
      "GET",
      `/api/parties/${id}/topics/${topic}/messages?limit=${limit}` + (before ? `&before=${encodeURIComponent(before)}` : ""),
    ),
  /** The page around a message, or the one after a newerCursor. */
  messagesAt: (id: string, topic: string, where: { around: string } | { after: string }, limit = 50) =>
    api<{ messages: Message[]; nextCursor: string; newerCursor?: string }>(
      "GET",
      `/api/parties/${id}/topics/${topic}/messages?limit=${limit}` +
        ("around" in where ? `&around=${encodeURIComponent(where.around)}` : `&after=${encodeURIComponent(where.after)}`),
    ),
  react: (id: string, topic: string, msg: string, emoji: string, on: boolean) =>
    api<Message>(on ? "PUT" : "DELETE", `/api/parties/${id}/topics/${topic}/messages/${msg}/reactions/${encodeURIComponent(emoji)}`),
  post: (id: string, topic: string, body: string, clientId: string, replyTo?: string, files?: FileChoice[]) =>
    api<Message>("POST", `/api/parties/${id}/topics/${topic}/messages`, {
      body, clientId, ...(replyTo ? { replyTo } : {}), ...(files && files.length > 0 ? { files } : {}),
    }),
  edit: (id: string, topic: string, msg: string, body: string) =>
    api<Message>("PATCH", `/api/parties/${id}/topics/${topic}/messages/${msg}`, { body }),
  deleteMessage: (id: string, topic: string, msg: string) =>
    api<void>("DELETE", `/api/parties/${id}/topics/${topic}/messages/${msg}`),
  search: (q: string, limit = 20, offset = 0) =>
    api<SearchResults>("GET", `/api/search?q=${encodeURIComponent(q)}&limit=${limit}&offset=${offset}`),
  wsTicket: () => api<{ ticket: string }>("POST", "/api/ws/ticket"),
};
