"use strict";
// Loads the real extension.js against a minimal `vscode` stub and a recording language
// client, then drives the accept wrapper and the paste detection.
const test = require("node:test");
const assert = require("node:assert/strict");
const Module = require("module");
const path = require("path");

function makeStub() {
  const sent = [];
  const commands = new Map();
  const listeners = { change: [], save: [] };
  const doc = {
    uri: { scheme: "file", path: "/w/a.py", toString: () => "file:///w/a.py" },
    text: "def f():\n    return 1\n",
    getText() { return this.text; },
  };
  const editor = { document: doc };
  let clipboard = "";
  const vscode = {
    StatusBarAlignment: { Right: 2 },
    window: {
      activeTextEditor: editor,
      createStatusBarItem: () => ({ show() {}, text: "" }),
      showErrorMessage: (m) => sent.push(["error", m]),
      showTextDocument: async () => {},
    },
    workspace: {
      textDocuments: [doc],
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
        if (name === "editor.action.inlineSuggest.commit") {
          doc.text = "def f():\n    total = add(1, 2)\n    return total\n";
        }
        const fn = commands.get(name);
        return fn ? fn(...args) : undefined;
      },
    },
  };
  class LanguageClient {
    async start() {}
    async stop() {}
    sendNotification(method, params) { sent.push([method, params]); }
    async sendRequest() { return { ai: 1, typed: 2, bulk: 3, paused: false }; }
  }
  return { vscode, LanguageClient, sent, commands, listeners, doc, setClipboard: (t) => { clipboard = t; } };
}

test("extension wraps inline accept and reports pastes", async () => {
  const stub = makeStub();
  const origResolve = Module._resolveFilename;
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
    assert.ok(stub.commands.has("worktally.pause"));
    assert.ok(stub.commands.has("worktally.preview"));

    await stub.commands.get("worktally.acceptInlineSuggestion")();
    const ai = stub.sent.find(([m]) => m === "worktally/aiEdit");
    assert.ok(ai, "an aiEdit notification was sent");
    assert.equal(ai[1].kind, "completion");
    assert.deepEqual(ai[1].range.start, { line: 1, character: 4 });
    assert.equal(ai[1].range.end.line, 2);

    const pasted = "print('hello from the clipboard')\n";
    stub.setClipboard(pasted);
    for (const fn of stub.listeners.change) {
      await fn({
        document: stub.doc,
        contentChanges: [{ text: pasted, range: { start: { line: 0, character: 0 } } }],
      });
    }
    const paste = stub.sent.find(([m]) => m === "worktally/paste");
    assert.ok(paste, "a paste notification was sent");
    assert.deepEqual(paste[1].range.end, { line: 1, character: 0 });
    await ext.deactivate();
    for (const d of context.subscriptions) d.dispose?.();
  } finally {
    Module._load = origLoad;
    Module._resolveFilename = origResolve;
    process.env.PATH = savedPath;
  }
});
