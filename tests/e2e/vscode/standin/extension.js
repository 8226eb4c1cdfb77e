// A stand-in for an AI completion tool: one inline completion provider that offers a fixed
// multi-line suggestion on an empty line below a chosen line. The test sets both in settings.
"use strict";

const vscode = require("vscode");

function provideInlineCompletionItems(document, position) {
  const config = vscode.workspace.getConfiguration("worktallyStandIn");
  const after = config.get("completeAfter");
  const completion = config.get("completion");
  if (!after || !completion || position.line === 0) return [];
  if (document.lineAt(position.line).text !== "") return [];
  if (document.lineAt(position.line - 1).text !== after) return [];
  return [new vscode.InlineCompletionItem(completion, new vscode.Range(position, position))];
}

function activate(context) {
  context.subscriptions.push(
    vscode.languages.registerInlineCompletionItemProvider(
      { scheme: "file" },
      { provideInlineCompletionItems },
    ),
  );
}

module.exports = { activate };
