"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("path");
const logic = require("../src/logic");

test("range after a one-line insert counts UTF-16 units (emoji are two)", () => {
  const r = logic.rangeAfterInsert({ line: 3, character: 4 }, "a😀b");
  assert.deepEqual(r, { start: { line: 3, character: 4 }, end: { line: 3, character: 8 } });
});

test("range after a multi-line insert ends on the last inserted line", () => {
  const r = logic.rangeAfterInsert({ line: 1, character: 2 }, "x\nyy\n漢字z");
  assert.deepEqual(r.end, { line: 3, character: 3 });
});

test("inserted range is found by diffing snapshots", () => {
  const before = "def f():\n    return 1\n";
  const after = "def f():\n    x = compute()\n    return x\n    return 1\n";
  const got = logic.insertedRange(before, after);
  assert.equal(got.text, "x = compute()\n    return x\n    ");
  assert.deepEqual(got.range.start, { line: 1, character: 4 });
  assert.deepEqual(got.range.end, { line: 3, character: 4 });
});

test("no insert gives null", () => {
  assert.equal(logic.insertedRange("same", "same"), null);
});

test("positionAt handles CRLF", () => {
  assert.deepEqual(logic.positionAt("a\r\nbc", 4), { line: 1, character: 1 });
});

test("a long insert equal to the clipboard is a paste; otherwise bulk", () => {
  const text = "const answer = compute(42);\n";
  assert.equal(logic.classifyInsert(text, text, 20), "paste");
  assert.equal(logic.classifyInsert(text, "something else", 20), "bulk");
  assert.equal(logic.classifyInsert(text.replace("\n", "\r\n"), text, 20), "paste");
});

test("small inserts and newline+indent are typed", () => {
  assert.equal(logic.classifyInsert("a", "", 20), "typed");
  assert.equal(logic.classifyInsert("\n    ", "", 20), "typed");
  assert.equal(logic.classifyInsert("abc", "", 20), "bulk");
});

test("chat editing schemes are recognised", () => {
  assert.ok(logic.isChatEditingScheme("chat-editing-snapshot-text-model"));
  assert.ok(!logic.isChatEditingScheme("file"));
});

test("accept commands: only those VS Code (or Cursor) has", () => {
  assert.deepEqual(logic.acceptCommandsPresent(["x", "editor.action.inlineSuggest.commit"]), [
    "editor.action.inlineSuggest.commit",
  ]);
});

test("interpreter lookup order: setting, Python extension, PATH, else a clear error", () => {
  const exe = new Set(["/opt/py/bin/python", "/env/bin/python", "/usr/local/bin/worktally"]);
  const isExecutable = (p) => exe.has(p);
  const base = { pathEnv: ["/nope", "/usr/local/bin"].join(path.delimiter), isExecutable };
  let got = logic.findServerCommand({ ...base, setting: "/opt/py/bin/python", pythonExtensionInterpreter: "/env/bin/python" });
  assert.equal(got.source, "setting");
  assert.deepEqual(got.args, ["-m", "worktally.client.cli", "lsp"]);
  got = logic.findServerCommand({ ...base, setting: "", pythonExtensionInterpreter: "/env/bin/python" });
  assert.equal(got.command, "/env/bin/python");
  got = logic.findServerCommand({ ...base, setting: "", pythonExtensionInterpreter: null, extraArgs: ["-v"] });
  assert.deepEqual(got, { command: "/usr/local/bin/worktally", args: ["lsp", "-v"], source: "path" });
  got = logic.findServerCommand({ setting: "", pythonExtensionInterpreter: null, pathEnv: "/nope", isExecutable });
  assert.match(got.error, /no interpreter found/);
  got = logic.findServerCommand({ ...base, setting: "/missing/python" });
  assert.match(got.error, /not an executable/);
});

test("status text", () => {
  assert.equal(logic.statusText({ ai: 3, typed: 4, bulk: 1, paused: false }), "$(sparkle) AI 3 · typed 4 · bulk 1");
  assert.match(logic.statusText({ paused: true }), /paused/);
  assert.match(logic.statusText(null), /worktally/);
  assert.equal(logic.statusText({ ai: 3, ai_modified: 2, typed: 4, bulk: 1, paused: false, agent: true }),
    "$(sparkle) AI 3 · AI edited 2 · typed 4 · bulk 1");
  // The agent is down: say so and what waits in the spool, never zeros that look like the day.
  const down = { ai: 0, typed: 0, bulk: 0, agent: false, paused: false,
    spool: { batches: 7, records: 30, edit_lines: 42, complete: true },
    note: "the worktally agent is not running: 7 batches (30 records, 42 lines) wait in the spool" };
  assert.equal(logic.statusText(down), "$(warning) worktally: agent down, 7 batches waiting");
  assert.equal(logic.statusText({ ...down, spool: { batches: 0 } }), "$(warning) worktally: agent down");
  assert.match(logic.statusTooltip(down), /^the worktally agent is not running: 7 batches/);
  assert.match(logic.statusTooltip(down), /this session: typed 0 · ai 0 · ai modified 0/);
  assert.match(logic.statusTooltip({ ...down, agent: true, note: null, ai: 5 }), /^worktally, today: typed 0 · ai 5/);
});
