-- Turns "this insert came from an AI accept (or a paste)" into the server's custom
-- notifications, with the inserted range computed from a before/after snapshot.

local client = require('worktally.client')
local insertion = require('worktally.insertion')

local M = {}

-- The marks sent in this session (method and range only, never text), newest last, so
-- `:lua print(vim.inspect(require('worktally.marks').sent))` shows what was reported.
M.sent = {}
local SENT_KEEP = 100

local function remember(method, range)
  table.insert(M.sent, { method = method, range = range })
  if #M.sent > SENT_KEEP then
    table.remove(M.sent, 1)
  end
end

-- How long an asynchronous accept (copilot.lua schedules its edit) may take to land.
local SETTLE_TIMEOUT_MS = 1000
local POLL_MS = 10

--- Send `worktally/aiEdit` for whatever was inserted since `snap`; returns the range sent.
---@param snap worktally.Snapshot
---@param tool string
---@param kind string
---@return table|nil
function M.ai_edit(snap, tool, kind)
  local range = insertion.since(snap)
  if range == nil then
    return nil
  end
  if client.notify('worktally/aiEdit', {
        uri = vim.uri_from_bufnr(snap.bufnr),
        range = range,
        tool = tool,
        kind = kind,
      }) then
    remember('worktally/aiEdit', range)
  end
  return range
end

--- Send `worktally/paste` for whatever was inserted since `snap`.
---@param snap worktally.Snapshot
---@return table|nil
function M.paste(snap)
  local range = insertion.since(snap)
  if range == nil then
    return nil
  end
  if client.notify('worktally/paste', { uri = vim.uri_from_bufnr(snap.bufnr), range = range }) then
    remember('worktally/paste', range)
  end
  return range
end

--- Run `fn()` once the buffer of `snap` has changed, or never if it does not change within
--- the timeout (an accept with no suggestion inserts nothing). The extra schedule lets the
--- rest of the same accept (cursor moves, indent fixes) finish first.
---@param snap worktally.Snapshot
---@param fn fun()
function M.after_change(snap, fn)
  local waited = 0
  local function check()
    if not vim.api.nvim_buf_is_valid(snap.bufnr) then
      return
    end
    if vim.api.nvim_buf_get_changedtick(snap.bufnr) ~= snap.tick then
      vim.schedule(fn)
    elseif waited < SETTLE_TIMEOUT_MS then
      waited = waited + POLL_MS
      vim.defer_fn(check, POLL_MS)
    end
  end
  vim.schedule(check)
end

return M
