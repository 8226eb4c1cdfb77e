"use strict";
// VS Code's chat editing: multi-line inserts into a file count as chat AI edits only while
// a chat-editing document for that file is open. Once the session's documents close, a
// later paste by the person is a paste (bulk on the server), never ai/chat.
const test = require("node:test");
const assert = require("node:assert/strict");
const Module = require("module");
const path = require("path");

function fileUri(p) {
  return { scheme: "file", path: p, toString: () => `file://${p}` };
}

function makeStub() {
  const sent = [];
  const commands = new Map();
  const listeners = { change: [], save: [] };
  const doc = { uri: fileUri("/w/a.py"), text: "def f():\n    return 1\n", getText() { return this.text; } };
  const other = { uri: fileUri("/w/b.py"), text: "", getText() { return this.text; } };
  const chatDoc = {
    uri: { scheme: "chat-editing-text-model", path: "/w/a.py", toString: () => "chat-editing-text-model:/w/a.py" },
  };
  let clipboard = "";
  const vscode = {
    StatusBarAlignment: { Right: 2 },
    window: {
      activeTextEditor: { document: doc },
      createStatusBarItem: () => ({ show() {}, text: "" }),
      showErrorMessage: (m) => sent.push(["error", m]),
      showTextDocument: async () => {},
    },
    workspace: {
      textDocuments: [doc, other],
      getConfiguration: () => ({ get: (k, d) => ({ interpreterPath: "", serverArgs: [] })[k] ?? d }),
      onDidChangeTextDocument: (fn) => { listeners.change.push(fn); return { dispose() {} }; },
      onDidSaveTextDocument: (fn) => { listeners.save.push(fn); return { dispose() {} }; },
      openTextDocument: async () => ({}),
    },
    extensions: { getExtension: () => null },
    env: { appName: "Visual Studio Code", clipboard: { readText: async () => clipboard } },
    commands: {
      getCommands: async () => ["editor.action.inlineSuggest.commit", ...commands.keys()],
      registerCommand: (name, fn) => { commands.set(name, fn); return { dispose() {} }; },
      executeCommand: async (name, ...args) => {
        const fn = commands.get(name);
        return fn ? fn(...args) : undefined;
      },
    },
  };
  class LanguageClient {
    async start() {}
    async stop() {}
    sendNotification(method, params) { sent.push([method, params]); }
    async sendRequest() { return { ai: 0, typed: 0, bulk: 0, paused: false, agent: true }; }
  }
  return {
    vscode, LanguageClient, sent, listeners, doc, other, chatDoc,
    setClipboard: (t) => { clipboard = t; },
    openChat() { vscode.workspace.textDocuments.push(chatDoc); },
    closeChat() {
      vscode.workspace.textDocuments = vscode.workspace.textDocuments.filter((d) => d !== chatDoc);
    },
  };
}

async function insert(stub, document, line, text) {
  for (const fn of stub.listeners.change) {
    await fn({ document, contentChanges: [{ text, range: { start: { line, character: 0 } } }] });
  }
}

function methods(stub) {
  return stub.sent.map(([m, p]) => [m, p.kind || null, p.range ? p.range.start.line : null]);
}

test("chat-editing detection ends with the chat-editing session", async () => {
  const stub = makeStub();
  const origLoad = Module._load;
  Module._load = function (request, parent, isMain) {
    if (request === "vscode") return stub.vscode;
    if (request === "vscode-languageclient/node") return { LanguageClient: stub.LanguageClient };
    return origLoad.call(this, request, parent, isMain);
  };
  const savedPath = process.env.PATH;
  process.env.PATH = path.join(__dirname, "fixtures", "bin");
  try {
    const ext = require("../src/extension.js");
    const context = { subscriptions: [] };
    await ext.activate(context);

    // The chat session stages an edit of a.py: its multi-line insert is ai/chat.
    stub.openChat();
    const chatEdit = "def g(items):\n    return sorted(items)\n";
    await insert(stub, stub.chatDoc, 2, chatEdit);  // VS Code edits its working model first
    await insert(stub, stub.doc, 2, chatEdit);
    assert.deepEqual(methods(stub), [["worktally/aiEdit", "chat", 2]]);
    const ai = stub.sent[0][1];
    assert.equal(ai.tool, "vscode-chat");
    assert.deepEqual(ai.range.end, { line: 4, character: 0 });
    // Another file has no chat-editing document: its inserts are not chat edits.
    await insert(stub, stub.other, 0, "def unrelated():\n    return 0\n");
    assert.equal(stub.sent.length, 1);
    // Even during the session, a paste by the person is reported as a paste.
    const early = "EARLY_PASTE = compute_early(1)\nSECOND = 2\n";
    stub.setClipboard(early);
    await insert(stub, stub.doc, 4, early);
    assert.deepEqual(methods(stub).slice(1), [["worktally/paste", null, 4]]);

    // The session ends (its documents close). A later paste into a.py is the person's.
    stub.closeChat();
    const pasted = "PASTED_LIMIT = compute_limit(42)\nPASTED_NAME = 'inventory'\n";
    stub.setClipboard(pasted);
    await insert(stub, stub.doc, 6, pasted);
    assert.deepEqual(methods(stub).slice(2), [["worktally/paste", null, 6]]);
    // And a multi-line insert that is not the clipboard (a snippet) sends nothing: the
    // server classifies it as bulk on its own.
    await insert(stub, stub.doc, 8, "for item in items:\n    print(item)\n");
    assert.equal(stub.sent.length, 3);
    assert.equal(stub.sent.filter(([m]) => m === "worktally/aiEdit").length, 1);

    await ext.deactivate();
    for (const d of context.subscriptions) d.dispose?.();
  } finally {
    Module._load = origLoad;
    process.env.PATH = savedPath;
  }
});
