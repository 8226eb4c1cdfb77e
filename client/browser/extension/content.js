// worktally content script for AI chat sites. It counts prompts sent and answers received
// (tokens estimated as characters / 4) and notices code copied from an answer, then hands
// that to the service worker. Nothing is stored here and nothing leaves the machine: the
// native host turns copied code into line keys and drops the text.

(() => {
  "use strict";

  // Where each chat family shows a user message and an answer. Sites change their markup;
  // these selectors are best effort and fall back to counting nothing, never to guessing.
  const SITES = {
    chatgpt: {
      user: '[data-message-author-role="user"]',
      answer: '[data-message-author-role="assistant"]',
    },
    claude: { user: '[data-testid="user-message"]', answer: ".font-claude-response, .font-claude-message" },
    gemini: { user: "user-query", answer: "model-response" },
    copilot: { user: '[data-content="user-message"]', answer: '[data-content="ai-message"]' },
    mistral: {
      user: '[data-message-author-role="user"]',
      answer: '[data-message-author-role="assistant"]',
    },
    perplexity: { user: '[class*="group/query"]', answer: '[id^="markdown-content-"], .prose' },
  };
  const HOSTS = {
    "chatgpt.com": "chatgpt",
    "chat.openai.com": "chatgpt",
    "claude.ai": "claude",
    "gemini.google.com": "gemini",
    "copilot.microsoft.com": "copilot",
    "chat.mistral.ai": "mistral",
    "perplexity.ai": "perplexity",
    "www.perplexity.ai": "perplexity",
  };
  // A user message counts as a prompt only this soon after a send (Enter or a send button),
  // so a conversation's history rendered on load is not counted again.
  const SEND_WINDOW_MS = 30000;
  // An answer is counted once its text has stopped growing for this long.
  const SETTLE_MS = 1500;
  const SCAN_DELAY_MS = 300;
  // The host refuses messages over 1 MB; longer copies are cut at a line break.
  const MAX_COPY_CHARS = 250000;

  function familyOf(hostname) {
    if (HOSTS[hostname]) return HOSTS[hostname];
    // Test pages are served as <family>.localhost.
    const local = /^([a-z]+)\.localhost$/.exec(hostname);
    return local && SITES[local[1]] ? local[1] : null;
  }

  function randomId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  const family = familyOf(location.hostname);
  if (!family) return;
  const site = SITES[family];
  const session = randomId(); // one per page load; never derived from the URL
  const tracked = new WeakMap();
  let nextSeq = 0;
  let lastSend = -Infinity;
  let lastPrompt = -Infinity;
  let scanTimer = null;

  function send(msg) {
    try {
      chrome.runtime.sendMessage({ ...msg, family, session }).catch(() => {
        // No service worker answered (extension reloading); the count is lost, not retried.
      });
    } catch (_orphaned) {
      // The extension was updated or removed; this old script can no longer reach it.
    }
  }

  function textLength(el) {
    return (el.textContent || "").length;
  }

  function topLevel(el, selector) {
    return !(el.parentElement && el.parentElement.closest(selector));
  }

  function trackNew(el, role, now) {
    let counted;
    if (role === "user") {
      counted = now - lastSend <= SEND_WINDOW_MS;
      if (counted) lastPrompt = now;
    } else {
      counted = lastPrompt > -Infinity;
    }
    const state = { counted, seq: counted ? nextSeq++ : -1, sentTokens: 0, length: -1, changedAt: now };
    tracked.set(el, state);
    return state;
  }

  function scan() {
    scanTimer = null;
    const now = Date.now();
    let waiting = false;
    for (const [role, selector] of [["user", site.user], ["answer", site.answer]]) {
      for (const el of document.querySelectorAll(selector)) {
        if (!topLevel(el, selector)) continue;
        const state = tracked.get(el) || trackNew(el, role, now);
        if (!state.counted) continue;
        const length = textLength(el);
        if (length !== state.length) {
          state.length = length;
          state.changedAt = now;
        }
        const tokens = Math.ceil(length / 4);
        if (tokens <= state.sentTokens) continue;
        if (role === "user" || now - state.changedAt >= SETTLE_MS) {
          // A resent answer keeps its seq: the host keeps the largest estimate per seq.
          send({ type: role === "user" ? "prompt" : "response", tokens, seq: state.seq });
          state.sentTokens = tokens;
        } else {
          waiting = true;
        }
      }
    }
    if (waiting) schedule(SETTLE_MS);
  }

  function schedule(delay) {
    if (scanTimer === null) scanTimer = setTimeout(scan, delay);
  }

  function noteSend() {
    lastSend = Date.now();
    schedule(SCAN_DELAY_MS);
  }

  function isEditable(target) {
    return target instanceof Element &&
      (target.closest("textarea, input") !== null || target.closest('[contenteditable="true"], [contenteditable=""]') !== null);
  }

  function labelOf(button) {
    return ["aria-label", "title", "data-testid"].map((a) => button.getAttribute(a) || "").join(" ") +
      " " + (button.textContent || "");
  }

  function inAnswer(node) {
    return node instanceof Element && node.closest(site.answer) !== null;
  }

  function cutLong(text) {
    if (text.length <= MAX_COPY_CHARS) return text;
    const cut = text.lastIndexOf("\n", MAX_COPY_CHARS);
    return text.slice(0, cut > 0 ? cut : MAX_COPY_CHARS);
  }

  function sendCopy(text) {
    if (text && text.trim()) send({ type: "copy", text: cutLong(text) });
  }

  // The code block a "copy code" button belongs to: the only <pre> in its nearest ancestors.
  function codeBlockNear(button) {
    let node = button.parentElement;
    for (let depth = 0; depth < 6 && node; depth += 1, node = node.parentElement) {
      const blocks = node.querySelectorAll("pre");
      if (blocks.length === 1) return blocks[0];
      if (blocks.length > 1) return null; // a message-wide button; not a code copy
    }
    return null;
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && isEditable(ev.target)) noteSend();
  }, true);

  document.addEventListener("click", (ev) => {
    const button = ev.target instanceof Element ? ev.target.closest('button, [role="button"]') : null;
    if (!button) return;
    const label = labelOf(button);
    if (/\bcopy\b/i.test(label)) {
      const block = codeBlockNear(button);
      if (block && inAnswer(block)) {
        const code = block.querySelector("code") || block;
        sendCopy(code.textContent || "");
      }
    } else if (/\b(send|submit)\b/i.test(label)) {
      noteSend();
    }
  }, true);

  document.addEventListener("submit", noteSend, true);

  document.addEventListener("copy", () => {
    const selection = document.getSelection();
    if (!selection || selection.isCollapsed) return;
    const anchor = selection.anchorNode;
    const el = anchor && (anchor.nodeType === Node.ELEMENT_NODE ? anchor : anchor.parentElement);
    const block = el ? el.closest("pre, code") : null;
    if (block && inAnswer(block)) sendCopy(selection.toString());
  }, true);

  new MutationObserver(() => schedule(SCAN_DELAY_MS)).observe(document, {
    childList: true, subtree: true, characterData: true,
  });
})();
