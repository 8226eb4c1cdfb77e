// The VS Code side of worktally: starts `worktally lsp` and sends the explicit signals a
// language server cannot see on its own (accepted inline completions, chat edits, pastes).
"use strict";

const fs = require("fs");
const { execFile } = require("child_process");
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");
const logic = require("./logic");

const STATUS_POLL_MS = 30000;
let client = null;
let statusItem = null;
let serverCommand = null;

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

async function pythonExtensionInterpreter() {
  // Optional: the Python extension is used when present, never required.
  const ext = vscode.extensions.getExtension("ms-python.python");
  if (!ext) return null;
  try {
    const api = ext.isActive ? ext.exports : await ext.activate();
    const env = api && api.environments && api.environments.getActiveEnvironmentPath();
    return env && env.path ? env.path : null;
  } catch {
    return null;
  }
}

async function resolveServer() {
  const config = vscode.workspace.getConfiguration("worktally");
  return logic.findServerCommand({
    setting: config.get("interpreterPath"),
    pythonExtensionInterpreter: await pythonExtensionInterpreter(),
    pathEnv: process.env.PATH,
    isExecutable,
    extraArgs: config.get("serverArgs"),
  });
}

function lspPosition(pos) {
  return { line: pos.line, character: pos.character };
}

function sendAiEdit(document, range, kind, tool) {
  if (!client) return;
  client.sendNotification("worktally/aiEdit", {
    uri: document.uri.toString(),
    range,
    tool,
    kind,
  });
}

/** Wraps an inline-suggestion accept: snapshot, run the real command, send the inserted span. */
function registerAcceptWrapper(context, acceptCommand) {
  return vscode.commands.registerCommand("worktally.acceptInlineSuggestion", async () => {
    const editor = vscode.window.activeTextEditor;
    const before = editor ? editor.document.getText() : null;
    await vscode.commands.executeCommand(acceptCommand);
    if (!editor || before === null) return;
    const inserted = logic.insertedRange(before, editor.document.getText());
    if (inserted) {
      sendAiEdit(editor.document, inserted.range, "completion", providerName());
    }
  });
}

function providerName() {
  if (vscode.extensions.getExtension("GitHub.copilot")) return "copilot";
  if (vscode.env.appName && /cursor/i.test(vscode.env.appName)) return "cursor";
  return "inline-completion";
}

/**
 * Whether VS Code's chat editing is staging edits for `path` right now: one of its documents
 * (snapshot or working model) for that file is open. Asked at each multi-line insert rather
 * than remembered, so the detection ends with the chat-editing session: once its documents
 * close, later inserts into the file are the person's again.
 */
function chatEditing(path) {
  return vscode.workspace.textDocuments.some(
    (d) => logic.isChatEditingScheme(d.uri.scheme) && d.uri.path === path,
  );
}

async function onDocumentChange(event) {
  const doc = event.document;
  if (doc.uri.scheme !== "file" || !client) return;
  const minPaste = vscode.workspace.getConfiguration("worktally").get("paste.minCharacters", 20);
  for (const change of event.contentChanges) {
    if (!change.text) continue;
    const range = logic.rangeAfterInsert(lspPosition(change.range.start), change.text);
    const multiLine = change.text.includes("\n");
    if (change.text.length < minPaste && !(multiLine && chatEditing(doc.uri.path))) continue;
    const clipboard = change.text.length >= minPaste ? await vscode.env.clipboard.readText() : "";
    const kind = logic.classifyInsert(change.text, clipboard, minPaste);
    // A paste is the person's even while a chat-editing session is open for the file.
    if (kind === "paste") {
      client.sendNotification("worktally/paste", { uri: doc.uri.toString(), range });
    } else if (multiLine && chatEditing(doc.uri.path)) {
      sendAiEdit(doc, range, "chat", "vscode-chat");
    }
  }
}

async function refreshStatus() {
  if (!client || !statusItem) return;
  try {
    const status = await client.sendRequest("worktally/status", {});
    statusItem.text = logic.statusText(status);
    statusItem.tooltip = logic.statusTooltip(status);
  } catch {
    statusItem.text = logic.statusText(null);
    statusItem.tooltip = logic.statusTooltip(null);
  }
}

function runCli(args) {
  return new Promise((resolve, reject) => {
    if (!serverCommand || serverCommand.error) {
      reject(new Error(serverCommand ? serverCommand.error : "worktally is not started"));
      return;
    }
    const base = serverCommand.args.slice(0, serverCommand.args.indexOf("lsp"));
    execFile(serverCommand.command, [...base, ...args], { timeout: 60000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(stderr || err.message));
      else resolve(stdout);
    });
  });
}

async function showPreview() {
  try {
    const out = await runCli(["report", "preview", "--json"]);
    const doc = await vscode.workspace.openTextDocument({ content: out, language: "json" });
    await vscode.window.showTextDocument(doc);
  } catch (err) {
    vscode.window.showErrorMessage(`worktally: ${err.message}`);
  }
}

async function startClient(context) {
  serverCommand = await resolveServer();
  if (serverCommand.error) {
    vscode.window.showErrorMessage(serverCommand.error);
    return;
  }
  const serverOptions = { command: serverCommand.command, args: serverCommand.args };
  const clientOptions = { documentSelector: [{ scheme: "file" }] };
  client = new LanguageClient("worktally", "worktally", serverOptions, clientOptions);
  await client.start();
  await vscode.commands.executeCommand("setContext", "worktally.active", true);
  refreshStatus();
}

async function activate(context) {
  if (!vscode.workspace.getConfiguration("worktally").get("enable", true)) return;
  const accept = logic.acceptCommandsPresent(await vscode.commands.getCommands(true));
  context.subscriptions.push(
    registerAcceptWrapper(context, accept[0] || logic.ACCEPT_COMMANDS[0]),
    vscode.workspace.onDidChangeTextDocument(onDocumentChange),
    vscode.workspace.onDidSaveTextDocument(refreshStatus),
    vscode.commands.registerCommand("worktally.pause", async () => {
      await runCli(["pause"]);
      refreshStatus();
    }),
    vscode.commands.registerCommand("worktally.resume", async () => {
      await runCli(["resume"]);
      refreshStatus();
    }),
    vscode.commands.registerCommand("worktally.preview", showPreview),
    vscode.commands.registerCommand("worktally.restart", async () => {
      if (client) await client.restart();
      refreshStatus();
    }),
  );
  if (vscode.workspace.getConfiguration("worktally").get("statusBar.enable", true)) {
    statusItem = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
    statusItem.command = "worktally.preview";
    statusItem.text = logic.statusText(null);
    statusItem.show();
    context.subscriptions.push(statusItem);
    const timer = setInterval(refreshStatus, STATUS_POLL_MS);
    timer.unref?.();
    context.subscriptions.push({ dispose: () => clearInterval(timer) });
  }
  await startClient(context);
}

async function deactivate() {
  if (client) await client.stop();
  client = null;
}

module.exports = { activate, deactivate };
