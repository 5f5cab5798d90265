// One /ws/devteam connection that reconnects with backoff and resumes with `since`.

import { socketUrl } from "./api.js";

const MIN_DELAY_MS = 250;
const MAX_DELAY_MS = 5000;

/**
 * A feed of frames. `customerId` filters one customer; then the feed remembers the last `seq`
 * and reconnects with `since` = that seq, so nothing retained is missed (frames at or below
 * it are dropped). `since` is where the first connection starts (null: live only).
 */
export class LiveFeed {
  constructor({ customerId = null, since = null, onFrame, onOpen = () => {}, onState }) {
    this.customerId = customerId;
    this.lastSeq = since === null ? null : since;
    this.onFrame = onFrame;
    this.onOpen = onOpen;
    this.onState = onState;
    this.failures = 0;
    this.closed = false;
    this.socket = null;
    this.timer = null;
    this.connect();
  }

  connect() {
    if (this.closed) return;
    const params = { customerId: this.customerId };
    if (this.customerId !== null && this.lastSeq !== null) params.since = this.lastSeq;
    const socket = new WebSocket(socketUrl(params));
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.failures = 0;
      this.onState(this, "live");
      this.onOpen(this);
    });
    socket.addEventListener("message", (event) => this.receive(event.data));
    socket.addEventListener("close", () => {
      if (this.socket !== socket || this.closed) return;
      this.onState(this, "reconnecting");
      const delay = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** this.failures);
      this.failures += 1;
      this.timer = setTimeout(() => this.connect(), delay / 2 + Math.random() * (delay / 2));
    });
  }

  receive(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (typeof frame.seq === "number" && frame.seq >= 0 && this.customerId !== null) {
      if (this.lastSeq !== null && frame.seq <= this.lastSeq) return; // replayed twice
      this.lastSeq = frame.seq;
    }
    this.onFrame(frame);
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close();
    this.onState(this, "closed");
  }
}
