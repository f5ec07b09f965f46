// How a chat looks: message bubbles, inline keyboards, polls, files, avatars. No framework.

const ALLOWED = new Set([
  "B", "STRONG", "I", "EM", "U", "INS", "S", "STRIKE", "DEL", "A", "CODE", "PRE",
  "BLOCKQUOTE", "TG-SPOILER", "TG-EMOJI", "SPAN", "BR",
]);
const SAFE_LINK = /^(https?:|tg:|mailto:)/i;
const COMMAND = /(^|\s)(\/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?)(?=$|[\s.,!?;:])/g;
const COLOURS = ["#e17076", "#faa774", "#a695e7", "#7bc862", "#6ec9cb", "#65aadd", "#ee7aae"];

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "text") element.textContent = value;
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

// Telegram HTML from the emulator, reduced to the tags Telegram shows; links made safe.
export function sanitize(html, onCommand) {
  const template = document.createElement("template");
  template.innerHTML = html;
  clean(template.content);
  if (onCommand) linkCommands(template.content, onCommand);
  return template.content;
}

function clean(node) {
  for (const child of [...node.childNodes]) {
    if (child.nodeType === Node.TEXT_NODE) continue;
    if (child.nodeType !== Node.ELEMENT_NODE || !ALLOWED.has(child.tagName)) {
      child.replaceWith(document.createTextNode(child.textContent || ""));
      continue;
    }
    const href = child.getAttribute("href");
    const language = child.getAttribute("class");
    for (const attribute of [...child.attributes]) child.removeAttribute(attribute.name);
    if (child.tagName === "A") {
      if (href && SAFE_LINK.test(href)) {
        child.setAttribute("href", href);
        child.setAttribute("target", "_blank");
        child.setAttribute("rel", "noopener noreferrer");
      }
    } else if (child.tagName === "SPAN" && language === "tg-spoiler") {
      child.className = "tg-spoiler";
    } else if (child.tagName === "CODE" && language && /^language-[\w+-]+$/.test(language)) {
      child.className = language;
    }
    if (child.tagName === "TG-SPOILER" || child.className === "tg-spoiler") {
      child.addEventListener("click", () => child.classList.add("revealed"));
    }
    clean(child);
  }
}

function linkCommands(root, onCommand) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes = [];
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (!node.parentElement?.closest("a, code, pre") && COMMAND.test(node.data)) nodes.push(node);
    COMMAND.lastIndex = 0;
  }
  for (const node of nodes) {
    const parts = [];
    let last = 0;
    for (const match of node.data.matchAll(COMMAND)) {
      const start = match.index + match[1].length;
      parts.push(node.data.slice(last, start));
      const command = match[2];
      parts.push(h("a", { class: "command", href: "#", onclick: (event) => {
        event.preventDefault();
        onCommand(command);
      } }, command));
      last = start + command.length;
    }
    parts.push(node.data.slice(last));
    node.replaceWith(...parts);
  }
}

export function colourOf(id) {
  return COLOURS[Math.abs(Number(id)) % COLOURS.length];
}

export function initials(name) {
  const words = String(name || "?").trim().split(/\s+/).filter(Boolean);
  return words.slice(0, 2).map((word) => [...word][0]).join("").toUpperCase() || "?";
}

export function avatar(name, id, extraClass = "") {
  return h("div", { class: `avatar ${extraClass}`, style: `background:${colourOf(id)}` },
    h("span", { dir: "auto" }, initials(name)));
}

const TIME = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: "UTC" });
const DAY = new Intl.DateTimeFormat("en-GB", {
  weekday: "short", day: "numeric", month: "long", year: "numeric", timeZone: "UTC",
});

export const formatTime = (unix) => TIME.format(new Date(unix * 1000));
export const formatDay = (unix) => DAY.format(new Date(unix * 1000));

export function fileSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

// A one-line preview of a message, for the chat list.
export function preview(message) {
  if (!message) return "";
  if (message.service) return message.service.text;
  if (message.poll) return `📊 ${message.poll.question}`;
  if (message.document) return `📎 ${message.document.file_name || "File"}`;
  if (message.photo) return `🖼 ${message.caption || "Photo"}`;
  if (message.media) return mediaLabel(message.media) + (message.caption ? ` ${message.caption}` : "");
  return (message.text || message.caption || "").replace(/\s+/g, " ").trim();
}

// One message as the person `ctx.me` sees it in the chat. The bubble's dir="auto" follows its
// text or caption: every other part (sender, file, poll, time) carries its own dir, which
// takes it out of the bubble's direction detection.
export function renderMessage(message, ctx) {
  if (message.service) {
    return h("div", { class: "msg service", dataset: { messageId: message.message_id } },
      h("span", { dir: "auto" }, message.service.text));
  }
  const mine = message.from.id === ctx.me;
  const bubble = h("div", { class: "bubble", dir: "auto" });
  if (!mine && ctx.chatType !== "private") {
    bubble.append(h("div", { class: "sender", dir: "auto", style: `color:${colourOf(message.from.id)}` },
      message.from.name));
  }
  if (message.photo) {
    bubble.classList.add("has-photo");
    bubble.append(h("a", { href: message.photo.url, target: "_blank", rel: "noopener", dir: "ltr" },
      h("img", {
        class: "photo",
        src: message.photo.url,
        alt: message.caption || "picture",
        width: message.photo.width || undefined,
        height: message.photo.height || undefined,
      })));
  }
  if (message.topic && message.is_topic_message) {
    bubble.append(h("div", { class: "topic", dir: "auto" }, `# ${message.topic}`));
  }
  if (message.document) bubble.append(renderDocument(message.document));
  if (message.media) bubble.append(renderMedia(message.media));
  if (message.poll) bubble.append(renderPoll(message, ctx));
  const html = message.html ?? message.caption_html;
  if (html) bubble.append(h("div", { class: "text" }, sanitize(html, ctx.onCommand)));
  bubble.append(h("div", { class: "meta", dir: "ltr" },
    message.edited ? h("span", { class: "edited" }, "edited") : null,
    message.pinned ? h("span", { class: "pinned", title: "pinned" }, "📌") : null,
    h("time", { datetime: new Date(message.date * 1000).toISOString() }, formatTime(message.date))));
  const element = h("div", {
    class: `msg ${mine ? "out" : "in"}${message.from.is_bot ? " from-bot" : ""}`,
    dataset: { messageId: message.message_id, version: message.version, from: message.from.id },
  }, bubble);
  if (message.buttons && message.buttons.length) {
    element.append(renderKeyboard(message, ctx));
  }
  return element;
}

// What a person sent besides text: {kind, <kind>: the Bot API object, url}.
function mediaLabel(media) {
  const item = media[media.kind];
  switch (media.kind) {
    case "sticker": return item.emoji || "Sticker";
    case "photo": {
      const largest = item[item.length - 1];
      return `🖼 Photo ${largest.width}×${largest.height}`;
    }
    case "location": return `📍 ${item.latitude.toFixed(4)}, ${item.longitude.toFixed(4)}`;
    case "voice": return `🎤 Voice note ${Math.floor(item.duration / 60)}:${String(item.duration % 60).padStart(2, "0")}`;
    case "contact": return `👤 ${[item.first_name, item.last_name].filter(Boolean).join(" ")} ${item.phone_number}`;
    case "document": return `📎 ${item.file_name || "File"}`;
    default: return media.kind;
  }
}

function renderMedia(media) {
  if (media.kind === "document") {
    return renderDocument({ ...media.document, url: media.url });
  }
  const big = media.kind === "sticker" ? " sticker" : "";
  return h("div", { class: `media media-${media.kind}${big}`, dir: "auto" }, mediaLabel(media));
}

function renderDocument(document_) {
  const name = document_.file_name || "file";
  return h("a", {
    class: "document",
    dir: "auto",
    href: document_.url,
    download: name,
    title: `Download ${name}`,
  },
  h("span", { class: "document-icon" }, "⬇"),
  h("span", { class: "document-info" },
    h("span", { class: "document-name", dir: "auto" }, name),
    h("span", { class: "document-size" }, fileSize(document_.file_size || 0))));
}

function renderKeyboard(message, ctx) {
  return h("div", { class: "inline-keyboard" }, message.buttons.map((row) =>
    h("div", { class: "kb-row" }, row.map((button) => {
      if (button.url) {
        return h("a", {
          class: "kb-button url", href: button.url, target: "_blank", rel: "noopener noreferrer",
          dir: "auto",
        }, button.text, h("span", { class: "kb-arrow" }, "↗"));
      }
      return h("button", {
        class: "kb-button",
        type: "button",
        dir: "auto",
        disabled: button.callback_data === undefined,
        onclick: (event) => ctx.onPress(message, button, event.currentTarget),
      }, button.text);
    }))));
}

function renderPoll(message, ctx) {
  const poll = message.poll;
  const mine = poll.votes[String(ctx.me)] || [];
  const showResults = poll.is_closed || mine.length > 0;
  const total = poll.total_voter_count;
  const kind = [
    poll.is_closed ? "Final results" : poll.is_anonymous ? "Anonymous poll" : "Public poll",
    poll.type === "quiz" ? "quiz" : null,
    poll.allows_multiple_answers && !poll.is_closed ? "several answers" : null,
  ].filter(Boolean).join(" · ");
  const box = h("div", { class: `poll${showResults ? " results" : ""}`, dir: "auto", dataset: { pollId: poll.id } },
    h("div", { class: "poll-question", dir: "auto" }, poll.question),
    h("div", { class: "poll-kind" }, kind));
  const chosen = new Set();
  const options = h("div", { class: "poll-options" });
  poll.options.forEach((option, index) => {
    const percent = total ? Math.round((option.voter_count / total) * 100) : 0;
    if (showResults) {
      options.append(h("div", {
        class: `poll-option result${mine.includes(index) ? " chosen" : ""}`,
        dataset: { index, count: option.voter_count },
      },
      h("span", { class: "poll-percent" }, `${percent}%`),
      h("span", { class: "poll-text", dir: "auto" }, option.text,
        mine.includes(index) ? h("span", { class: "poll-check" }, " ✓") : null),
      h("span", { class: "poll-count" }, String(option.voter_count)),
      h("span", { class: "poll-bar", style: `width:${percent}%` })));
      return;
    }
    const button = h("button", {
      class: "poll-option", type: "button", dir: "auto", dataset: { index },
      onclick: () => {
        if (!poll.allows_multiple_answers) {
          ctx.onVote(message, [index]);
          return;
        }
        if (chosen.has(index)) chosen.delete(index); else chosen.add(index);
        button.classList.toggle("selected", chosen.has(index));
        submit.disabled = chosen.size === 0;
      },
    }, h("span", { class: "poll-radio" }), h("span", { class: "poll-text" }, option.text));
    options.append(button);
  });
  box.append(options);
  const submit = h("button", {
    class: "poll-submit", type: "button", disabled: true,
    onclick: () => ctx.onVote(message, [...chosen].sort((a, b) => a - b)),
  }, "Vote");
  if (!showResults && poll.allows_multiple_answers) box.append(submit);
  const footer = h("div", { class: "poll-footer" },
    total === 1 ? "1 vote" : total ? `${total} votes` : "No votes yet");
  if (mine.length && !poll.is_closed) {
    footer.append(" · ", h("button", {
      class: "link-button", type: "button", onclick: () => ctx.onVote(message, []),
    }, "Retract vote"));
  }
  box.append(footer);
  return box;
}
