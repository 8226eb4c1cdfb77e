// Stands in for AI tools in worktally's VS Code end-to-end test:
// - an inline completion provider offering a fixed multi-line suggestion on an empty line
//   below a chosen line;
// - a default chat participant for Edit mode that appends fixed text to the active file with
//   `stream.textEdit`, so the edit lands through VS Code's own chat-editing session (its
//   `chat-editing-*` documents), as Copilot's edits do. Chat needs a language model even when
//   the participant never calls one, so a stand-in model is registered too.
// The test sets every text in settings. The chat parts use proposed API: code-server must run
// with `--enable-proposed-api worktally-tests.worktally-standin`.
"use strict";

const vscode = require("vscode");

function settings() {
  return vscode.workspace.getConfiguration("worktallyStandIn");
}

function provideInlineCompletionItems(document, position) {
  const after = settings().get("completeAfter");
  const completion = settings().get("completion");
  if (!after || !completion || position.line === 0) return [];
  if (document.lineAt(position.line).text !== "") return [];
  if (document.lineAt(position.line - 1).text !== after) return [];
  return [new vscode.InlineCompletionItem(completion, new vscode.Range(position, position))];
}

async function editHandler(request, context, stream) {
  const editor = vscode.window.activeTextEditor;
  const text = settings().get("chatEdit");
  if (!editor || !text) {
    stream.markdown("Open a file first.");
    return {};
  }
  const doc = editor.document;
  const end = doc.lineAt(doc.lineCount - 1).range.end;
  stream.markdown("Appending a helper.");
  stream.textEdit(doc.uri, [vscode.TextEdit.insert(end, text)]);
  stream.textEdit(doc.uri, true);
  return {};
}

const standInModel = {
  async provideLanguageModelResponse() {
    return {};
  },
  async provideTokenCount() {
    return 1;
  },
};

function registerChat(context) {
  context.subscriptions.push(
    vscode.chat.createChatParticipant("worktally-standin.edit", editHandler),
    vscode.chat.createChatParticipant("worktally-standin.ask", (request, ctx, stream) => {
      stream.markdown("The stand-in only edits (Edit mode).");
      return {};
    }),
    vscode.lm.registerChatModelProvider("worktally-standin-model", standInModel, {
      vendor: "worktally-standin",
      name: "Stand-in",
      family: "worktally-standin",
      version: "1",
      maxInputTokens: 100000,
      maxOutputTokens: 10000,
      isDefault: true,
      isUserSelectable: true,
    }),
    vscode.commands.registerCommand("worktallyStandIn.openEditChat", () =>
      vscode.commands.executeCommand("workbench.action.chat.open", { mode: "edit" }),
    ),
  );
}

function activate(context) {
  context.subscriptions.push(
    vscode.languages.registerInlineCompletionItemProvider(
      { scheme: "file" },
      { provideInlineCompletionItems },
    ),
  );
  registerChat(context);
}

module.exports = { activate };
