// The live connection to the node: one WebSocket per tab, opened with a
// single-use ticket, reconnecting with capped, jittered backoff. After a
// reconnect, listeners hear "resync" so they fetch what they missed.
import { accessToken, routes, type Event } from "./api";

/** What listeners hear: the node's events (a union discriminated by
 * type), and "resync" after a reconnect. */
export type LiveEvent = Event | { type: "resync"; partyId: "" };

export type LiveStatus = "connecting" | "online" | "offline";

type Listener = (ev: LiveEvent) => void;

export class Live {
  private ws: WebSocket | null = null;
  private listeners = new Set<Listener>();
  private statusListeners = new Set<(s: LiveStatus) => void>();
  private attempt = 0;
  private timer: number | undefined;
  private stopped = false;
  private everOpened = false;
  status: LiveStatus = "connecting";

  start() {
    this.stopped = false;
    void this.connect();
    window.addEventListener("online", this.wake);
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.wake);
    clearTimeout(this.timer);
    this.ws?.close(1000, "signed out");
    this.ws = null;
  }

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  onStatus(fn: (s: LiveStatus) => void): () => void {
    this.statusListeners.add(fn);
    return () => this.statusListeners.delete(fn);
  }

  /** Tells the party someone is typing; dropped when offline. */
  typing(partyId: string, topicId: string) {
    if (this.ws?.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ type: "typing", partyId, topicId }));
    }
  }

  private wake = () => {
    if (this.status !== "online") {
      clearTimeout(this.timer);
      this.attempt = 0;
      void this.connect();
    }
  };

  private setStatus(s: LiveStatus) {
    this.status = s;
    this.statusListeners.forEach((fn) => fn(s));
  }

  private emit(ev: LiveEvent) {
    this.listeners.forEach((fn) => fn(ev));
  }

  private async connect() {
    if (this.stopped) return;
    this.setStatus(this.everOpened ? "offline" : "connecting");
    let ticket: string;
    try {
      if (!(await accessToken())) return; // signed out
      ticket = (await routes.wsTicket()).ticket;
    } catch {
      this.retry();
      return;
    }
    if (this.stopped) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/api/ws?ticket=${encodeURIComponent(ticket)}`);
    this.ws = ws;
    ws.onopen = () => {
      const again = this.everOpened;
      this.everOpened = true;
      this.attempt = 0;
      this.setStatus("online");
      if (again) this.emit({ type: "resync", partyId: "" });
    };
    ws.onmessage = (m) => {
      try {
        const frame = JSON.parse(m.data as string) as Event | { type: "ack" | "error" };
        if (frame && typeof frame.type === "string" && frame.type !== "ack" && frame.type !== "error") this.emit(frame as Event);
      } catch {
        /* a frame we cannot read is skipped; the resync covers it */
      }
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (!this.stopped) this.retry();
    };
  }

  private retry() {
    if (this.stopped) return;
    this.setStatus(this.everOpened ? "offline" : "connecting");
    const base = Math.min(30_000, 500 * 2 ** this.attempt);
    this.attempt++;
    this.timer = window.setTimeout(() => void this.connect(), base / 2 + Math.random() * (base / 2));
  }
}
