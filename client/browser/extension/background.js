// worktally service worker: passes the content scripts' messages to the local native host.
// It keeps only the known fields, so a page can never make it forward anything else, and it
// never sends anything over the network.

const HOST = "dev.worktally.host";
const FAMILIES = new Set(["chatgpt", "claude", "gemini", "copilot", "mistral", "perplexity"]);
const SESSION = /^[0-9A-Za-z-]{8,64}$/;

function isCount(value) {
  return Number.isInteger(value) && value >= 0;
}

// The message to forward, or null when it is not one the host understands.
function clean(msg) {
  if (!msg || typeof msg !== "object") return null;
  if (!FAMILIES.has(msg.family) || typeof msg.session !== "string" || !SESSION.test(msg.session)) {
    return null;
  }
  const base = { type: msg.type, family: msg.family, session: msg.session };
  if (msg.type === "copy" && typeof msg.text === "string" && msg.text.length > 0) {
    return { ...base, text: msg.text };
  }
  if ((msg.type === "prompt" || msg.type === "response") && isCount(msg.tokens) && isCount(msg.seq)) {
    return { ...base, tokens: msg.tokens, seq: msg.seq };
  }
  return null;
}

chrome.runtime.onMessage.addListener((msg, sender, sendResponse) => {
  // Only this extension's own content scripts, running in a tab, may use the host.
  if (sender.id !== chrome.runtime.id || !sender.tab) return false;
  const out = clean(msg);
  if (out === null) return false;
  chrome.runtime.sendNativeMessage(HOST, out, (reply) => {
    const error = chrome.runtime.lastError;
    if (error) {
      console.warn(`worktally: the native host did not answer (${error.message}); ` +
        "run `worktally browser install`");
      sendResponse({ ok: false, error: error.message });
      return;
    }
    // The reply holds counts only (never text), so it is safe to log.
    console.log(`worktally: ${out.type} -> ${JSON.stringify(reply)}`);
    sendResponse(reply);
  });
  return true; // sendResponse is called later, from the host's callback
});
