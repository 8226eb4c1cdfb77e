-- Optional: marks `p` / `P` of a multi-line register as a paste (`worktally/paste`), so the
-- server knows such an insert is a paste rather than inferring "bulk" from its size alone.

local insertion = require('worktally.insertion')
local marks = require('worktally.marks')

local M = {}

local function put(key)
  return function()
    local register = vim.v.register
    local count = vim.v.count1
    local contents = vim.fn.getreg(register)
    local multi_line = vim.fn.getregtype(register) == 'V' or contents:find('\n', 1, true) ~= nil
    local snap = nil
    if multi_line then
      snap = insertion.snapshot(vim.api.nvim_get_current_buf())
      -- A put lands after (or before) the cursor line, not at the cursor.
      snap.cursor = nil
    end
    vim.cmd('normal! "' .. register .. count .. key)
    if snap ~= nil then
      marks.paste(snap)
    end
  end
end

--- Map p and P in normal mode (only if the user has not mapped them).
function M.install()
  for _, key in ipairs({ 'p', 'P' }) do
    if vim.fn.maparg(key, 'n') == '' then
      vim.api.nvim_set_keymap('n', key, '', {
        noremap = true,
        callback = put(key),
        desc = 'worktally: put, marked as a paste',
      })
    end
  end
end

return M
