-- Test stand-in for copilot.lua's `copilot.suggestion`: accept() applies the suggestion in a
-- scheduled callback with apply_text_edits, as the real module does, and the keymap calls
-- accept through the module table. M.standin_offer(text) "shows" a suggestion at the cursor.

local M = {}

local offered = nil

function M.standin_offer(text)
  local row = vim.api.nvim_win_get_cursor(0)[1] - 1
  local current = vim.api.nvim_buf_get_lines(0, row, row + 1, true)[1]
  offered = {
    text = text,
    range = {
      start = { line = row, character = 0 },
      ['end'] = { line = row, character = #current },
    },
  }
end

function M.is_visible()
  return offered ~= nil
end

function M.accept()
  local suggestion = offered
  offered = nil
  if suggestion == nil then
    return
  end
  vim.schedule_wrap(function()
    local bufnr = vim.api.nvim_get_current_buf()
    vim.lsp.util.apply_text_edits(
      { { range = suggestion.range, newText = suggestion.text } }, bufnr, 'utf-16')
  end)()
end

function M.setup(keymap)
  vim.keymap.set('i', keymap.accept, function()
    if M.is_visible() then
      M.accept()
    else
      vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(keymap.accept, true, false, true), 'n', true)
    end
  end, { silent = true, desc = '[copilot] accept suggestion' })
  if keymap.accept_bound then
    -- Older copilot.lua releases bound the accept function itself to the key.
    vim.keymap.set('i', keymap.accept_bound, M.accept, { silent = true })
  end
end

return M
