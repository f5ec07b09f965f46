// The Chorus sandbox page: be any simulated person, in any of their chats, and talk to the bot.
// Live: the emulator's server-sent events (/control/events) say which chat changed.

import { api } from "./api.js";
import { avatar, formatDay, h, preview, renderMessage } from "./render.js";

const $ = (selector) => document.querySelector(selector);
const LANGUAGES = { en: "English", fr: "Français", es: "Español", ar: "العربية", "": "not set" };

const store = {
  info: null,
  people: [],
  roles: {},
  me: null,
  chatId: null,
  chats: [],
  view: null,
  rendered: new Map(), // message id → { key, element }
  seen: JSON.parse(localStorage.getItem("chorus-sandbox-seen") || "{}"),
  clock: null,
};

// Reloads coalesce: while one runs, further requests collapse into one more run.
function coalesced(work) {
  let running = null;
  let again = false;
  return async function run() {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await work();
        } while (again);
      } catch (error) {
        showError(error);
      } finally {
        running = null;
      }
    })();
    return running;
  };
}

// notifications

function toast(text, kind = "info") {
  const item = h("div", { class: `toast ${kind}`, dir: "auto", role: "status" }, text);
  $("#toasts").append(item);
  setTimeout(() => item.remove(), kind === "error" ? 6000 : 3500);
}

function showError(error) {
  console.error(error);
  toast(error.message || String(error), "error");
}

function alertBox(text) {
  $("#alert-text").textContent = text;
  $("#alert").showModal();
}

// people

const person = (id) => store.people.find((p) => p.id === id);
const fullName = (user) => [user.first_name, user.last_name].filter(Boolean).join(" ");

const loadPeople = coalesced(async () => {
  [store.people, store.roles] = await Promise.all([api.users(), api.roles()]);
  renderPeople();
});

// People's labels follow what they do (a newcomer who registers becomes a volunteer): asked
// again when a private chat changes, redrawn only when one differs.
const loadRoles = coalesced(async () => {
  const roles = await api.roles();
  if (JSON.stringify(roles) === JSON.stringify(store.roles)) return;
  store.roles = roles;
  renderPeople();
});

function renderPeople() {
  const filter = $("#people-filter").value.trim().toLowerCase();
  const list = $("#people");
  list.replaceChildren();
  const shown = store.people.filter((p) => !filter || fullName(p).toLowerCase().includes(filter));
  for (const user of shown.slice(0, 400)) {
    const role = store.roles[String(user.id)];
    list.append(h("li", {
      class: `person${user.id === store.me ? " active" : ""}`,
      role: "option",
      "aria-selected": user.id === store.me ? "true" : "false",
      tabindex: "0",
      dataset: { userId: user.id },
      onclick: () => selectPerson(user.id),
      onkeydown: (event) => event.key === "Enter" && selectPerson(user.id),
    },
    avatar(fullName(user), user.id, "small"),
    h("span", { class: "person-name", dir: "auto" }, fullName(user)),
    role ? h("span", { class: "badge role" }, role) : null,
    h("span", { class: "badge lang", title: `Telegram language: ${LANGUAGES[user.language_code || ""] || user.language_code}` },
      user.language_code || "—")));
  }
  if (shown.length > 400) list.append(h("li", { class: "more" }, `${shown.length - 400} more: type to find them`));
  const me = person(store.me);
  $("#me-name").textContent = me ? fullName(me) : "";
}

async function selectPerson(userId) {
  if (store.me === userId) return;
  store.me = userId;
  store.chatId = userId;
  store.rendered.clear();
  $("#messages").replaceChildren();
  saveLocation();
  renderPeople();
  await Promise.all([loadChats(), loadView()]);
}

// chat list

const loadChats = coalesced(async () => {
  if (store.me === null) return;
  const me = store.me;
  const chats = await api.chatsOf(me);
  if (me !== store.me) return;
  store.chats = chats;
  renderChats();
});

function seenVersion(chatId) {
  return (store.seen[store.me] || {})[chatId] || 0;
}

function markSeen(chatId, version) {
  const mine = (store.seen[store.me] ||= {});
  if ((mine[chatId] || 0) >= version) return;
  mine[chatId] = version;
  localStorage.setItem("chorus-sandbox-seen", JSON.stringify(store.seen));
}

function chatTitle(chat) {
  return chat.type === "private" ? store.info.bot.first_name : chat.title;
}

function renderChats() {
  const list = $("#chats");
  list.replaceChildren();
  for (const chat of store.chats) {
    const title = chatTitle(chat);
    const last = chat.last;
    const away = chat.type !== "private" && !["creator", "administrator", "member", "restricted"].includes(chat.status);
    const unread = chat.id !== store.chatId && chat.version > seenVersion(chat.id);
    list.append(h("li", {
      class: `chat${chat.id === store.chatId ? " active" : ""}${away || chat.migrated_to ? " away" : ""}`,
      tabindex: "0",
      dataset: { chatId: chat.id, type: chat.type },
      onclick: () => selectChat(chat.id),
      onkeydown: (event) => event.key === "Enter" && selectChat(chat.id),
    },
    avatar(title, chat.type === "private" ? store.info.bot.id : chat.id),
    h("div", { class: "chat-body" },
      h("div", { class: "chat-line" },
        h("span", { class: "chat-name", dir: "auto" }, title),
        chat.type === "private" ? h("span", { class: "badge bot" }, "bot") : null,
        last ? h("time", {}, formatDay(last.date) === formatDay(clockNow()) ? timeOf(last.date) : shortDay(last.date)) : null),
      h("div", { class: "chat-line" },
        h("span", { class: "chat-preview", dir: "auto" },
          last && !last.service && chat.type !== "private" ? `${last.from.name}: ` : "",
          preview(last)),
        unread ? h("span", { class: "unread", title: "new" }) : null))));
  }
}

const timeOf = (unix) => new Date(unix * 1000).toISOString().slice(11, 16);
const shortDay = (unix) => new Date(unix * 1000).toISOString().slice(5, 10).replace("-", "/");

async function selectChat(chatId) {
  if (store.chatId === chatId) return;
  store.chatId = chatId;
  store.rendered.clear();
  $("#messages").replaceChildren();
  closeCommands();
  saveLocation();
  renderChats();
  await loadView();
  $("#composer-text").focus();
}

// the open chat

const loadView = coalesced(async () => {
  const chatId = store.chatId;
  const me = store.me;
  if (chatId === null) return;
  const view = await api.chat(chatId);
  if (chatId !== store.chatId || me !== store.me) return;
  store.view = view;
  renderView();
  markSeen(chatId, view.version);
});

function myStatus(view) {
  const member = view.members.find((m) => m.user.id === store.me);
  return member ? member.status : "left";
}

function renderView() {
  const view = store.view;
  const chat = view.chat;
  const private_ = chat.type === "private";
  const title = private_ ? store.info.bot.first_name : chat.title;
  const status = myStatus(view);
  const present = private_ || ["creator", "administrator", "member", "restricted"].includes(status);
  $("#chat-avatar").replaceWith(Object.assign(avatar(title, private_ ? store.info.bot.id : chat.id), { id: "chat-avatar" }));
  $("#chat-title").textContent = title;
  const people = view.members.filter((m) => !m.user.is_bot && ["creator", "administrator", "member", "restricted"].includes(m.status));
  $("#chat-subtitle").textContent = private_
    ? (view.blocked ? "you blocked this bot" : `bot · @${store.info.bot.username}`)
    : `${chat.type === "supergroup" ? "supergroup" : "group"} · ${people.length} ${people.length === 1 ? "member" : "members"} · bot ${chat.bot_status}`;
  renderActions(view, status, present);
  renderNotice(view, status, present);
  renderMessages(view);
  renderReplyKeyboard(view);
  const composer = $("#composer-text");
  const writable = present && !chat.migrated_to;
  composer.disabled = !writable;
  $("#send").disabled = !writable;
  $("#attach-button").disabled = !writable;
  $("#commands-button").disabled = !writable;
  composer.placeholder = writable ? "Message" : "You cannot write here";
  document.body.dataset.chatId = chat.id;
  document.body.dataset.version = view.version;
}

function renderActions(view, status, present) {
  const chat = view.chat;
  const actions = $("#chat-actions");
  actions.replaceChildren();
  const action = (label, work, title) =>
    h("button", { type: "button", class: "action", title, onclick: () => work().catch(showError) }, label);
  if (chat.type === "private") {
    actions.append(view.blocked
      ? action("Unblock bot", () => api.unblock(store.me), "The bot gets my_chat_member: member")
      : action("Block bot", () => api.block(store.me), "Sends to you now fail with 403; the bot gets my_chat_member: kicked"));
    return;
  }
  if (chat.migrated_to) return;
  if (present) {
    actions.append(action("Add person", () => openAddMember(view), "Add someone to this group"));
    if (chat.type === "group") {
      actions.append(action("Make supergroup", async () => {
        const created = await api.migrate(chat.id, store.me);
        await loadChats();
        await selectChat(created.id);
      }, "The group becomes a supergroup with a new id (migrate_to_chat_id)"));
    }
    actions.append(action("Leave group", () => api.leave(chat.id, store.me), "You leave; the bot sees a left member"));
  } else {
    actions.append(action("Join again", () => api.addMember(chat.id, store.me, store.me), "Come back to the group"));
  }
}

function renderNotice(view, status, present) {
  const chat = view.chat;
  const notice = $("#notice");
  notice.replaceChildren();
  notice.hidden = true;
  if (chat.migrated_to) {
    notice.hidden = false;
    notice.append("This group was upgraded to a supergroup. ",
      h("button", { type: "button", class: "link-button", onclick: () => selectChat(chat.migrated_to) }, "Open the supergroup"));
  } else if (!present) {
    notice.hidden = false;
    notice.append(status === "kicked" ? "You were removed from this group." : "You are not in this group.");
  } else if (view.blocked) {
    notice.hidden = false;
    notice.append("You blocked the bot: what it sends you fails with 403. Writing to it unblocks it.");
  } else if (chat.type === "private" && !chat.started && !view.messages.length) {
    notice.hidden = false;
    notice.append("Say hello: ", h("button", { type: "button", class: "link-button", onclick: () => sendText("/start") }, "/start"));
  }
}

function messageKey(message) {
  return `${message.version}:${store.me}`;
}

function renderMessages(view) {
  const box = $("#messages");
  const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 120 || !store.rendered.size;
  const ctx = {
    me: store.me,
    chatType: view.chat.type,
    onPress: pressButton,
    onVote: vote,
    onCommand: (command) => sendText(command),
  };
  const wanted = new Set();
  const elements = [];
  let day = null;
  for (const message of view.messages) {
    const messageDay = formatDay(message.date);
    if (messageDay !== day) {
      day = messageDay;
      elements.push(h("div", { class: "day" }, h("span", {}, day)));
    }
    wanted.add(message.message_id);
    const known = store.rendered.get(message.message_id);
    const key = messageKey(message);
    if (known && known.key === key) {
      elements.push(known.element);
    } else {
      const element = renderMessage(message, ctx);
      store.rendered.set(message.message_id, { key, element });
      elements.push(element);
    }
  }
  for (const id of [...store.rendered.keys()]) if (!wanted.has(id)) store.rendered.delete(id);
  const current = [...box.children];
  if (current.length !== elements.length || current.some((element, index) => element !== elements[index])) {
    box.replaceChildren(...elements);
  }
  if (nearBottom) box.scrollTop = box.scrollHeight;
}

function renderReplyKeyboard(view) {
  const holder = $("#reply-keyboard");
  holder.replaceChildren();
  const keyboard = view.keyboard && view.keyboard.keyboard;
  holder.hidden = !keyboard;
  if (!keyboard) return;
  for (const row of keyboard) {
    holder.append(h("div", { class: "kb-row" }, row.map((button) => {
      const text = typeof button === "string" ? button : button.text;
      return h("button", { type: "button", class: "kb-button", dir: "auto", onclick: () => sendText(text) }, text);
    })));
  }
}

function openAddMember(view) {
  const inside = new Set(view.members.filter((m) => ["creator", "administrator", "member", "restricted"].includes(m.status)).map((m) => m.user.id));
  const candidates = store.people.filter((p) => !inside.has(p.id));
  const picker = $("#add-member");
  const select = $("#add-member-select");
  select.replaceChildren(...candidates.map((p) => h("option", { value: p.id }, fullName(p))));
  picker.hidden = false;
  select.focus();
  return Promise.resolve();
}

// acting

async function sendText(text) {
  const body = text.trim();
  if (!body || store.me === null) return;
  await api.send(store.me, store.chatId, body).catch(showError);
  const box = $("#messages");
  box.scrollTop = box.scrollHeight;
}

// The attach menu: what a person can send besides text. The text typed so far becomes the
// caption of a photo, voice note or file.
const ATTACH_CAPTIONED = new Set(["photo", "voice", "document"]);

function attachSpec(kind) {
  const me = person(store.me);
  switch (kind) {
    case "sticker": return { emoji: "🎉" };
    case "photo": return { width: 1280, height: 960 };
    case "location": return { latitude: 48.8566, longitude: 2.3522 };
    case "voice": return { duration: 5 };
    case "contact": return { phone_number: "+33612345678", first_name: me ? me.first_name : "Friend", user_id: store.me };
    default: return {};
  }
}

async function sendMedia(kind, spec) {
  if (store.me === null) return;
  const input = $("#composer-text");
  const caption = ATTACH_CAPTIONED.has(kind) ? input.value.trim() : "";
  $("#attach-menu").hidden = true;
  try {
    await api.sendMedia(store.me, store.chatId, kind, spec, caption);
    if (caption) input.value = "";
  } catch (error) {
    showError(error);
  }
  const box = $("#messages");
  box.scrollTop = box.scrollHeight;
}

function readFile(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

async function pressButton(message, button, element) {
  element.classList.add("pressing");
  try {
    const result = await api.press(store.me, message.chat_id, message.message_id, button.callback_data);
    const answer = result.answer;
    if (answer && answer.text) {
      if (answer.show_alert) alertBox(answer.text);
      else toast(answer.text);
    }
  } catch (error) {
    showError(error);
  } finally {
    element.classList.remove("pressing");
  }
}

async function vote(message, optionIds) {
  try {
    await api.vote(store.me, message.chat_id, message.message_id, optionIds);
  } catch (error) {
    showError(error);
  }
}

// the command menu

async function toggleCommands() {
  const menu = $("#commands-menu");
  if (!menu.hidden) {
    closeCommands();
    return;
  }
  const commands = await api.commandsFor(store.me, store.chatId);
  menu.replaceChildren(...(commands.length ? commands.map((c) =>
    h("button", { type: "button", class: "command-item", onclick: () => { closeCommands(); sendText(`/${c.command}`); } },
      h("span", { class: "command-name" }, `/${c.command}`),
      h("span", { class: "command-description", dir: "auto" }, c.description)))
    : [h("div", { class: "command-empty" }, "The bot has no commands here.")]));
  menu.hidden = false;
}

function closeCommands() {
  $("#commands-menu").hidden = true;
}

// the clock

function clockNow() {
  if (!store.clock) return Date.now() / 1000;
  return store.clock.now + (performance.now() - store.clock.at) / 1000;
}

function setClock(view) {
  store.clock = { now: view.now, at: performance.now(), movable: view.movable };
  for (const button of document.querySelectorAll("[data-advance]")) button.disabled = !view.movable;
  showClock();
}

const CLOCK = new Intl.DateTimeFormat("en-GB", {
  weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", timeZone: "UTC",
});

function showClock() {
  const now = clockNow();
  const element = $("#clock-now");
  element.textContent = `${CLOCK.format(new Date(now * 1000))} UTC`;
  element.dateTime = new Date(now * 1000).toISOString();
  element.dataset.unix = String(Math.floor(now));
}

async function advance(seconds, button) {
  button.disabled = true;
  try {
    setClock(await api.advance(seconds));
    toast(`Time moved forward by ${button.textContent.replace("+", "")}`);
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = !store.clock?.movable;
  }
}

// live updates

function listen() {
  const events = new EventSource("/control/events");
  events.onopen = () => {
    document.body.dataset.live = "yes";
    loadPeople();
    loadChats();
    loadView();
    api.clock().then(setClock, showError);
  };
  events.onerror = () => {
    document.body.dataset.live = "no";
  };
  events.onmessage = (event) => {
    const data = JSON.parse(event.data);
    if (data.type === "chat") {
      if (data.chat_id === store.chatId) loadView();
      loadChats();
      if (data.chat_id > 0) loadRoles();
    } else if (data.type === "user") {
      loadPeople();
    } else if (data.type === "chat_created") {
      loadChats();
    } else if (data.type === "clock") {
      api.clock().then(setClock, showError);
    }
  };
}

// where we are: #user=…&chat=…

function saveLocation() {
  const hash = `#user=${store.me}&chat=${store.chatId}`;
  if (location.hash !== hash) history.replaceState(null, "", hash);
  localStorage.setItem("chorus-sandbox-where", hash);
}

function readLocation() {
  const hash = location.hash || localStorage.getItem("chorus-sandbox-where") || "";
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  return { user: Number(params.get("user")) || null, chat: Number(params.get("chat")) || null };
}

// wiring

function wire() {
  $("#people-filter").addEventListener("input", renderPeople);
  $("#composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("#composer-text");
    const text = input.value;
    input.value = "";
    input.style.height = "";
    closeCommands();
    sendText(text);
  });
  $("#composer-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("#composer").requestSubmit();
    }
  });
  $("#composer-text").addEventListener("input", (event) => {
    const input = event.currentTarget;
    input.style.height = "";
    input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
  });
  $("#commands-button").addEventListener("click", () => toggleCommands().catch(showError));
  $("#attach-button").addEventListener("click", () => {
    $("#attach-menu").hidden = !$("#attach-menu").hidden;
  });
  for (const item of document.querySelectorAll("[data-attach]")) {
    item.addEventListener("click", () => {
      const kind = item.dataset.attach;
      if (kind === "document") $("#attach-file").click();
      else sendMedia(kind, attachSpec(kind));
    });
  }
  $("#attach-file").addEventListener("change", async (event) => {
    const file = event.currentTarget.files[0];
    event.currentTarget.value = "";
    if (!file) return;
    try {
      const content = await readFile(file);
      await sendMedia("document", {
        file_name: file.name,
        mime_type: file.type || null,
        content_base64: content,
      });
    } catch (error) {
      showError(error);
    }
  });
  for (const button of document.querySelectorAll("[data-advance]")) {
    button.addEventListener("click", () => advance(Number(button.dataset.advance), button));
  }
  $("#add-person-toggle").addEventListener("click", () => {
    $("#add-person").hidden = !$("#add-person").hidden;
    if (!$("#add-person").hidden) $("#add-person-name").focus();
  });
  $("#add-person").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = $("#add-person-name").value.trim();
    if (!name) return;
    try {
      const user = await api.createUser(name, $("#add-person-language").value);
      $("#add-person-name").value = "";
      $("#add-person").hidden = true;
      await loadPeople();
      await selectPerson(user.id);
    } catch (error) {
      showError(error);
    }
  });
  $("#new-group-toggle").addEventListener("click", () => {
    $("#new-group").hidden = !$("#new-group").hidden;
    if (!$("#new-group").hidden) $("#new-group-title").focus();
  });
  $("#new-group").addEventListener("submit", async (event) => {
    event.preventDefault();
    const title = $("#new-group-title").value.trim();
    if (!title) return;
    try {
      const chat = await api.createGroup(title, store.me);
      $("#new-group-title").value = "";
      $("#new-group").hidden = true;
      await loadChats();
      await selectChat(chat.id);
    } catch (error) {
      showError(error);
    }
  });
  $("#add-member").addEventListener("submit", async (event) => {
    event.preventDefault();
    const userId = Number($("#add-member-select").value);
    $("#add-member").hidden = true;
    if (userId) await api.addMember(store.chatId, userId, store.me).catch(showError);
  });
  $("#add-member-cancel").addEventListener("click", () => {
    $("#add-member").hidden = true;
  });
  setInterval(showClock, 1000);
}

async function start() {
  wire();
  const info = await api.page();
  store.info = info;
  store.roles = info.roles;
  setClock(info.clock);
  store.people = await api.users();
  const where = readLocation();
  const coordinator = store.people.find((p) => info.roles[String(p.id)] === "coordinator");
  const me = person(where.user) || coordinator || store.people[0];
  if (!me) {
    $("#messages").replaceChildren(h("div", { class: "empty" }, "Nobody is here yet: add a person."));
    renderPeople();
    listen();
    return;
  }
  store.me = me.id;
  store.chatId = where.user === me.id && where.chat ? where.chat : me.id;
  renderPeople();
  saveLocation();
  await Promise.all([loadChats(), loadView()]);
  listen();
  document.body.dataset.ready = "yes";
}

start().catch(showError);
