// The emulator's control API, as the page uses it.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function call(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["content-type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    throw new ApiError(response.status, (data && data.error) || response.statusText);
  }
  return data;
}

export const api = {
  page: () => call("GET", "/control/page"),
  roles: () => call("GET", "/control/roles"),
  users: () => call("GET", "/control/users"),
  createUser: (firstName, languageCode) =>
    call("POST", "/control/users", { first_name: firstName, language_code: languageCode || null }),
  chatsOf: (userId) => call("GET", `/control/people/${userId}/chats`),
  commandsFor: (userId, chatId) =>
    call("GET", `/control/people/${userId}/commands?chat_id=${encodeURIComponent(chatId)}`),
  chat: (chatId) => call("GET", `/control/chats/${chatId}`),
  send: (userId, chatId, text) =>
    call("POST", "/control/messages", { user_id: userId, chat_id: chatId, text }),
  // kind: sticker, photo, location, voice, contact or document; spec: that kind's details.
  sendMedia: (userId, chatId, kind, spec, caption) =>
    call("POST", "/control/messages", {
      user_id: userId,
      chat_id: chatId,
      [kind]: spec,
      caption: caption || null,
    }),
  press: (userId, chatId, messageId, data) =>
    call("POST", "/control/press", {
      user_id: userId,
      chat_id: chatId,
      message_id: messageId,
      data,
      wait: 10,
    }),
  vote: (userId, chatId, messageId, optionIds) =>
    call("POST", "/control/votes", {
      user_id: userId,
      chat_id: chatId,
      message_id: messageId,
      option_ids: optionIds,
    }),
  block: (userId) => call("POST", `/control/users/${userId}/block`),
  unblock: (userId) => call("POST", `/control/users/${userId}/unblock`),
  createGroup: (title, creatorId) =>
    call("POST", "/control/groups", {
      title,
      member_ids: [creatorId],
      creator_id: creatorId,
      bot_status: "administrator",
    }),
  addMember: (chatId, userId, by) =>
    call("POST", `/control/chats/${chatId}/members`, { user_id: userId, by }),
  leave: (chatId, userId) => call("DELETE", `/control/chats/${chatId}/members/${userId}`),
  migrate: (chatId, by) => call("POST", `/control/chats/${chatId}/migrate`, { by }),
  clock: () => call("GET", "/control/clock"),
  advance: (seconds) => call("POST", "/control/clock", { advance_seconds: seconds }),
};
