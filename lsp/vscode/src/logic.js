// Pure decisions of the extension, kept free of the `vscode` module so Node's test runner
// can exercise them: inserted ranges, paste/AI classification, interpreter lookup.
"use strict";

const path = require("path");

/** Length of a string in UTF-16 code units: LSP positions count those, as JS strings do. */
function utf16Length(text) {
  return text.length;
}

/**
 * The span an insert occupies in the document after the edit, as an LSP range.
 * `start` is the insert position ({line, character}); `text` is what was inserted.
 */
function rangeAfterInsert(start, text) {
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length === 1) {
    return { start, end: { line: start.line, character: start.character + utf16Length(text) } };
  }
  const last = lines[lines.length - 1];
  return { start, end: { line: start.line + lines.length - 1, character: utf16Length(last) } };
}

/**
 * Compare two snapshots of a document and return the inserted span in the new one:
 * the common prefix and suffix are trimmed, what is left in `after` is the insert.
 * Returns null when nothing was inserted.
 */
function insertedRange(before, after) {
  let prefix = 0;
  const max = Math.min(before.length, after.length);
  while (prefix < max && before.charCodeAt(prefix) === after.charCodeAt(prefix)) prefix++;
  let suffix = 0;
  while (
    suffix < max - prefix &&
    before.charCodeAt(before.length - 1 - suffix) === after.charCodeAt(after.length - 1 - suffix)
  ) {
    suffix++;
  }
  const inserted = after.slice(prefix, after.length - suffix);
  if (inserted.length === 0) return null;
  const start = positionAt(after, prefix);
  return { range: rangeAfterInsert(start, inserted), text: inserted };
}

/** The LSP position of a UTF-16 offset in `text`. */
function positionAt(text, offset) {
  let line = 0;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, character: offset - lineStart };
}

/**
 * What an insert was, from the extension's point of view:
 * - "paste" when it is long enough and equals the clipboard,
 * - "typed" for small inserts, and "bulk" otherwise (the server decides AI only from signals).
 */
function classifyInsert(text, clipboard, minPasteChars) {
  if (text.length >= minPasteChars && clipboard && normaliseEol(text) === normaliseEol(clipboard)) {
    return "paste";
  }
  const smallOnOneLine = text.length <= 2 && !/[\r\n]/.test(text);
  const newlineAndIndent = /^\r?\n[ \t]*$/.test(text);
  return smallOnOneLine || newlineAndIndent ? "typed" : "bulk";
}

function normaliseEol(text) {
  return text.replace(/\r\n?/g, "\n");
}

const CHAT_EDITING_SCHEMES = new Set([
  "chat-editing-snapshot-text-model",
  "chat-editing-text-model",
  "vscode-chat-code-block",
]);

/** True for documents VS Code's chat editing uses to stage AI edits. */
function isChatEditingScheme(scheme) {
  return CHAT_EDITING_SCHEMES.has(scheme);
}

/** Inline-suggestion accept commands to wrap: VS Code's, and Cursor's where present. */
const ACCEPT_COMMANDS = ["editor.action.inlineSuggest.commit", "editor.action.acceptCursorTabSuggestion"];

function acceptCommandsPresent(allCommands) {
  const known = new Set(allCommands);
  return ACCEPT_COMMANDS.filter((c) => known.has(c));
}

/**
 * How to start the server. Order: the setting, then the Python extension's active
 * interpreter, then a `worktally` executable on PATH. Returns {command, args} or
 * {error} with a message that tells the user what to do.
 */
function findServerCommand({ setting, pythonExtensionInterpreter, pathEnv, isExecutable, extraArgs }) {
  const args = ["lsp", ...(extraArgs || [])];
  const moduleArgs = ["-m", "worktally.client.cli", ...args];
  if (setting) {
    if (!isExecutable(setting)) {
      return { error: `worktally.interpreterPath is set to "${setting}", which is not an executable file.` };
    }
    return { command: setting, args: moduleArgs, source: "setting" };
  }
  if (pythonExtensionInterpreter && isExecutable(pythonExtensionInterpreter)) {
    return { command: pythonExtensionInterpreter, args: moduleArgs, source: "python-extension" };
  }
  for (const dir of (pathEnv || "").split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, "worktally");
    if (isExecutable(candidate)) {
      return { command: candidate, args, source: "path" };
    }
  }
  return {
    error:
      "worktally: no interpreter found. Install it (pip install worktally) or set " +
      "worktally.interpreterPath to a Python that has it.",
  };
}

/**
 * The status bar text for a `worktally/status` answer. With no agent running it says so and
 * how much waits in the spool, instead of counts that would look like the day's.
 */
function statusText(status) {
  if (!status) return "$(circle-slash) worktally";
  if (status.agent === false) {
    const waiting = status.spool && status.spool.batches ? status.spool.batches : 0;
    const paused = status.paused ? ", paused" : "";
    return waiting
      ? `$(warning) worktally: agent down, ${waiting} batches waiting${paused}`
      : `$(warning) worktally: agent down${paused}`;
  }
  if (status.paused) return "$(debug-pause) worktally paused";
  const modified = status.ai_modified ? ` · AI edited ${status.ai_modified}` : "";
  return `$(sparkle) AI ${status.ai}${modified} · typed ${status.typed} · bulk ${status.bulk}`;
}

/** The hover text: every count by source, and the server's note when there is one. */
function statusTooltip(status) {
  if (!status) return "worktally: the language server did not answer";
  const counts = ["typed", "ai", "ai_modified", "bulk", "external"]
    .map((source) => `${source.replace("_", " ")} ${status[source] || 0}`)
    .join(" · ");
  const scope = status.agent === false ? "this session" : "today";
  const note = status.note ? `${status.note}\n` : "";
  return `${note}worktally, ${scope}: ${counts}`;
}

module.exports = {
  acceptCommandsPresent,
  classifyInsert,
  findServerCommand,
  insertedRange,
  isChatEditingScheme,
  positionAt,
  rangeAfterInsert,
  statusText,
  statusTooltip,
  ACCEPT_COMMANDS,
};
