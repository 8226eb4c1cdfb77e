-- Hooks the accept actions of copilot.vim (`copilot#Accept*` expression mappings) and
-- copilot.lua (`require('copilot.suggestion').accept`), so an accepted suggestion is sent as
-- `worktally/aiEdit` with tool "copilot" and kind "completion". Installing twice is harmless.

local insertion = require('worktally.insertion')
local marks = require('worktally.marks')

local M = {}

local TOOL = 'copilot'
local KIND = 'completion'

-- The snapshot taken when a copilot.vim mapping fired, waiting for its keys to run; only
-- the latest is kept, since keys that never ran (an interrupted mapping) report nothing.
local pending = {}
local next_pending = 0
-- copilot.lua modules already wrapped (weak, so a reloaded module is wrapped again).
local wrapped_modules = setmetatable({}, { __mode = 'k' })

local function termcodes(keys)
  return vim.api.nvim_replace_termcodes(keys, true, false, true)
end

--- Called by the <Cmd> we append to copilot.vim's keys, after its text is in the buffer.
---@param id integer
function M._vim_accepted(id)
  local snap = pending[id]
  pending[id] = nil
  if snap ~= nil then
    marks.ai_edit(snap, TOOL, KIND)
  end
end

--- The expression our mappings wrap around copilot.vim's: evaluates to copilot's own keys,
--- plus, when they insert a suggestion, a <Cmd> that reports the insert once it has run.
---@param keys string what copilot#Accept*() returned
---@return string
function M.accepted_keys(keys)
  -- copilot.vim inserts a suggestion with <C-R><C-O>= (or <C-R><C-R>=); anything else is
  -- its fallback (a Tab, the popup menu's next item) and is not AI text.
  if type(keys) ~= 'string' or not keys:find('\18', 1, true) then
    return keys
  end
  next_pending = next_pending + 1
  pending = { [next_pending] = insertion.snapshot(vim.api.nvim_get_current_buf()) }
  return keys .. termcodes(
    "<Cmd>lua require('worktally.copilot')._vim_accepted(" .. next_pending .. ')<CR>')
end

local WRAPPER = "v:lua.require'worktally.copilot'.accepted_keys"

local function wrap_vim_mapping(map)
  -- <SID> would mean our script once we redefine the mapping; name copilot's explicitly.
  local rhs = map.rhs
  if map.sid ~= nil and map.sid > 0 then
    rhs = rhs:gsub('<SID>', '<SNR>' .. map.sid .. '_')
  end
  -- The rhs keeps its copilot#Accept( text: copilot.vim checks hasmapto('copilot#Accept(').
  vim.api.nvim_set_keymap('i', map.lhs, WRAPPER .. '(' .. rhs .. ')', {
    expr = true,
    noremap = map.noremap == 1,
    script = map.script == 1,
    silent = map.silent == 1,
    nowait = map.nowait == 1,
  })
end

--- Wrap every global insert-mode expression mapping that calls copilot#Accept*.
---@return integer how many mappings were wrapped
function M.hook_copilot_vim()
  local count = 0
  for _, map in ipairs(vim.api.nvim_get_keymap('i')) do
    if map.expr == 1 and type(map.rhs) == 'string' and map.rhs:find('copilot#Accept')
        and not map.rhs:find(WRAPPER, 1, true) then
      wrap_vim_mapping(map)
      count = count + 1
    end
  end
  return count
end

local function rebind_callbacks(original, replacement)
  for _, map in ipairs(vim.api.nvim_get_keymap('i')) do
    if map.callback == original then
      vim.api.nvim_set_keymap('i', map.lhs, '', {
        expr = map.expr == 1,
        noremap = map.noremap == 1,
        silent = map.silent == 1,
        nowait = map.nowait == 1,
        callback = replacement,
        desc = map.desc,
      })
    end
  end
end

--- Wrap copilot.lua's accept if copilot.lua is loaded. accept_word and accept_line call
--- `accept` through the module table, so wrapping `accept` covers all three.
---@return boolean whether a module was wrapped now
function M.hook_copilot_lua()
  local module = package.loaded['copilot.suggestion']
  if type(module) ~= 'table' or type(module.accept) ~= 'function' then
    return false
  end
  if wrapped_modules[module] then
    return false
  end
  local original = module.accept
  local function accept(...)
    local snap = insertion.snapshot(vim.api.nvim_get_current_buf())
    local result = original(...)
    -- copilot.lua applies the text in a scheduled callback, so wait for the buffer to change.
    marks.after_change(snap, function()
      marks.ai_edit(snap, TOOL, KIND)
    end)
    return result
  end
  module.accept = accept
  wrapped_modules[module] = true
  -- Older copilot.lua versions bound the function itself to the key.
  rebind_callbacks(original, accept)
  return true
end

--- Install both hooks; safe to call on every InsertEnter.
function M.install()
  M.hook_copilot_vim()
  M.hook_copilot_lua()
end

return M
