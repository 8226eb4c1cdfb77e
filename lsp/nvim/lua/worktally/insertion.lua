-- Where did an accept put its text? Compares a buffer snapshot taken before an AI accept
-- with the buffer after it and returns the inserted span as an LSP range (UTF-16 columns),
-- so the server can mark exactly those lines without ever seeing our diff logic's input.

local M = {}

---@class worktally.Snapshot
---@field bufnr integer
---@field tick integer
---@field lines string[]
---@field cursor integer[]|nil  {row (1-based), byte col} of the window showing the buffer

--- Take a snapshot of `bufnr`; the cursor is only meaningful if the buffer is current.
---@param bufnr integer
---@return worktally.Snapshot
function M.snapshot(bufnr)
  local cursor = nil
  if vim.api.nvim_get_current_buf() == bufnr then
    cursor = vim.api.nvim_win_get_cursor(0)
  end
  return {
    bufnr = bufnr,
    tick = vim.api.nvim_buf_get_changedtick(bufnr),
    lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, true),
    cursor = cursor,
  }
end

local function is_continuation(byte)
  return byte ~= nil and byte >= 0x80 and byte < 0xC0
end

--- Byte offset of a {row (1-based), byte col} position in the "\n"-joined lines.
local function offset_of(lines, row, col)
  local offset = 0
  for i = 1, math.min(row - 1, #lines) do
    offset = offset + #lines[i] + 1
  end
  return offset + col
end

--- LSP position {line, character} of a byte offset in the "\n"-joined lines.
local function position_of(lines, offset)
  local remaining = offset
  for i, line in ipairs(lines) do
    if remaining <= #line then
      return { line = i - 1, character = M.utf16_units(line:sub(1, remaining)) }
    end
    remaining = remaining - #line - 1
  end
  local last = lines[#lines] or ''
  return { line = math.max(#lines - 1, 0), character = M.utf16_units(last) }
end

--- Length of a UTF-8 string in UTF-16 code units (LSP's default column unit); written out
--- because vim.str_utfindex changed its signature between 0.7 and 0.11.
---@param text string
---@return integer
function M.utf16_units(text)
  local units = 0
  for i = 1, #text do
    local byte = text:byte(i)
    if not is_continuation(byte) then
      -- A 4-byte sequence is outside the BMP and needs a surrogate pair.
      units = units + (byte >= 0xF0 and 2 or 1)
    end
  end
  return units
end

--- The span that `after` gained over `before`, as an LSP range in `after`, or nil when the
--- change inserted nothing. `cursor` ({row, col} before the change) breaks ties: text equal
--- to what precedes the cursor is not counted as inserted, since accepts insert at the cursor.
---@param before string[]
---@param after string[]
---@param cursor integer[]|nil
---@return table|nil
function M.inserted_range(before, after, cursor)
  local old = table.concat(before, '\n')
  local new = table.concat(after, '\n')
  local limit = math.min(#old, #new)
  if cursor then
    limit = math.min(limit, offset_of(before, cursor[1], cursor[2]))
  end

  -- Skip whole equal lines first so large files cost a line compare, not a byte loop.
  local prefix, i = 0, 1
  while i <= #before and i <= #after and before[i] == after[i]
      and prefix + #before[i] + 1 <= limit do
    prefix = prefix + #before[i] + 1
    i = i + 1
  end
  while prefix < limit and old:byte(prefix + 1) == new:byte(prefix + 1) do
    prefix = prefix + 1
  end
  while prefix > 0 and is_continuation(new:byte(prefix + 1)) do
    prefix = prefix - 1
  end

  local suffix_max = math.min(#old, #new) - prefix
  local suffix, j = 0, 0
  -- A trailing line is preceded by "\n" only if it is not the first line, hence the - 1.
  while j < #before - 1 and j < #after - 1 and before[#before - j] == after[#after - j]
      and suffix + #after[#after - j] + 1 <= suffix_max do
    suffix = suffix + #after[#after - j] + 1
    j = j + 1
  end
  while suffix < suffix_max and old:byte(#old - suffix) == new:byte(#new - suffix) do
    suffix = suffix + 1
  end

  local finish = #new - suffix
  while finish < #new and is_continuation(new:byte(finish + 1)) do
    finish = finish + 1
  end
  if finish <= prefix then
    return nil
  end
  return M.trim_line_breaks(after, position_of(after, prefix), position_of(after, finish))
end

--- A line-wise insert ("\nnew lines" at a line's end, or "new lines\n" at a line's start)
--- is reported as the new lines only: the server marks every line a range touches, and the
--- neighbour line holding just the line break is not new. A lone line break gives nil.
---@param lines string[] the buffer after the insert
---@param start table LSP position
---@param stop table LSP position
---@return table|nil
function M.trim_line_breaks(lines, start, stop)
  if stop.line > start.line and stop.character == 0 then
    stop = { line = stop.line - 1, character = M.utf16_units(lines[stop.line]) }
  end
  if stop.line > start.line and start.character == M.utf16_units(lines[start.line + 1]) then
    start = { line = start.line + 1, character = 0 }
  end
  if start.line == stop.line and start.character == stop.character then
    return nil
  end
  return { start = start, ['end'] = stop }
end

--- The range inserted since `snap` was taken, or nil if the buffer is gone or unchanged.
---@param snap worktally.Snapshot
---@return table|nil
function M.since(snap)
  if not vim.api.nvim_buf_is_valid(snap.bufnr) then
    return nil
  end
  if vim.api.nvim_buf_get_changedtick(snap.bufnr) == snap.tick then
    return nil
  end
  local after = vim.api.nvim_buf_get_lines(snap.bufnr, 0, -1, true)
  return M.inserted_range(snap.lines, after, snap.cursor)
end

return M
