// Drives the fixture chat page like a user would; see chat.html.
(() => {
  "use strict";
  const conversation = JSON.parse(decodeURIComponent(location.hash.slice(1)));
  const thread = document.getElementById("thread");
  const prompt = document.getElementById("prompt");
  const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function message(role) {
    const el = document.createElement("div");
    el.setAttribute("data-message-author-role", role);
    thread.appendChild(el);
    return el;
  }

  function codeBlock(text) {
    const box = document.createElement("div");
    box.className = "code";
    const bar = document.createElement("div");
    bar.className = "code-bar";
    const button = document.createElement("button");
    button.setAttribute("aria-label", "Copy code");
    button.textContent = "Copy code";
    bar.appendChild(button);
    const pre = document.createElement("pre");
    const code = document.createElement("code");
    code.textContent = text;
    pre.appendChild(code);
    box.append(bar, pre);
    return { box, button, code };
  }

  // A reopened conversation: shown at once, before anything is sent, so never counted.
  function renderHistory() {
    for (const turn of conversation.history || []) {
      message("user").textContent = turn.prompt;
      message("assistant").textContent = turn.answer;
    }
  }

  async function run() {
    renderHistory();
    await wait(1000);
    prompt.value = conversation.prompt;
    prompt.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    message("user").textContent = prompt.value;
    prompt.value = "";
    await wait(300);
    const answer = message("assistant");
    const intro = document.createElement("p");
    intro.textContent = conversation.answer;
    answer.appendChild(intro);
    const blocks = conversation.blocks.map(codeBlock);
    for (const block of blocks) answer.appendChild(block.box);
    await wait(300);
    // Block 0: the site's "Copy code" button (sites write to the clipboard API themselves).
    blocks[0].button.click();
    // Block 1: select the code and copy, as with Ctrl+C.
    const range = document.createRange();
    range.selectNodeContents(blocks[1].code);
    const selection = document.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    if (!document.execCommand("copy")) {
      // Headless pages have no user activation, so execCommand may refuse; the copy event a
      // user's Ctrl+C fires is what the extension listens to.
      document.dispatchEvent(new ClipboardEvent("copy", { bubbles: true }));
    }
    document.title = "chat fixture: done";
  }

  run();
})();
