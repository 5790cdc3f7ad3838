// The chat room page: one websocket to the room (the Channels tutorial's
// protocol: {"message": text} both ways, plus "username" when the sender
// is signed in), reconnecting with a growing delay when it drops.
"use strict";
(function () {
  const chat = document.getElementById("chat");
  if (!chat) return;
  const log = document.getElementById("chat-log");
  const empty = document.getElementById("chat-empty");
  const status = document.getElementById("chat-status");
  const form = document.getElementById("chat-form");
  const input = document.getElementById("chat-message-input");
  const button = document.getElementById("chat-message-submit");
  const me = chat.dataset.username || null;
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + chat.dataset.socket;
  let socket = null;
  let delay = 500;

  function setState(state, text) {
    status.dataset.state = state;
    status.textContent = text;
    button.disabled = state !== "open";
  }

  function show(data) {
    const item = document.createElement("li");
    const who = document.createElement("span");
    who.className = "who";
    if (data.username) {
      who.textContent = data.username;
      if (data.username === me) item.className = "mine";
    } else {
      who.textContent = "guest";
      who.classList.add("guest");
    }
    item.append(who, document.createTextNode(String(data.message)));
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    log.append(item);
    empty.hidden = true;
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  function connect() {
    setState("connecting", "Connecting…");
    socket = new WebSocket(url);
    socket.addEventListener("open", () => {
      delay = 500;
      setState("open", "Connected");
    });
    socket.addEventListener("message", (e) => {
      try {
        show(JSON.parse(e.data));
      } catch (err) {
        console.warn("chat: unreadable message", err);
      }
    });
    socket.addEventListener("close", (e) => {
      // 1001: the server restarts; anything else but a refusal: retry.
      setState("closed", e.code === 1008 ? "Refused" : "Disconnected, retrying…");
      if (e.code !== 1008) {
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 10000);
      }
    });
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const message = input.value.trim();
    if (!message || !socket || socket.readyState !== WebSocket.OPEN) return;
    socket.send(JSON.stringify({ message: message }));
    input.value = "";
    input.focus();
  });

  connect();
  input.focus();
})();
