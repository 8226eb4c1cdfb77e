-- A session for test_neovim_e2e.py's every-class scenario, inside real headless Neovim: types
-- two lines key by key, accepts a copilot.vim suggestion (stand-in), then edits one of the
-- accepted lines key by key (an AI line the person changed), puts an unmarked block, saves,
-- waits until `worktally/status` counts it, stops `worktally lsp` cleanly and writes a JSON
-- summary.
--
-- Environment: WORKTALLY_BIN, WORKTALLY_TEST_FILE, WORKTALLY_TEST_RESULT and
-- WORKTALLY_TEST_BLOCKS (JSON: {typed, copilot_vim, paste, edit = {line, text}}; `edit.line`
-- is the 1-based buffer line to append `edit.text` to).

local WAIT_MS = 15000

local function fail(message)
  error(message, 0)
end

local function wait_for(what, condition)
  if not vim.wait(WAIT_MS, condition, 10) then
    fail('timed out waiting for ' .. what)
  end
end

local function keys(text)
  return vim.api.nvim_replace_termcodes(text, true, false, true)
end

local function press(sequence)
  vim.api.nvim_feedkeys(keys(sequence), 'xt', false)
end

-- One didChange per key, as when a person types.
local function type_text(text)
  for i = 1, #text do
    local char = text:sub(i, i)
    local key = char == '\n' and '<CR>' or char == '<' and '<lt>' or char
    press('a' .. key .. '<Esc>')
  end
end

local function main()
  local here = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')
  local repo_root = vim.fn.fnamemodify(here, ':h:h:h')
  vim.opt.runtimepath:append(repo_root .. '/lsp/nvim')
  vim.opt.runtimepath:append(here .. '/copilot_standin')
  vim.cmd('runtime plugin/copilot.vim')

  local blocks = vim.fn.json_decode(os.getenv('WORKTALLY_TEST_BLOCKS'))
  local worktally = require('worktally')
  local client = require('worktally.client')
  local marks = require('worktally.marks')
  worktally.setup({
    cmd = { os.getenv('WORKTALLY_BIN'), 'lsp' },
    filetypes = { 'python' },
  })

  vim.cmd('edit ' .. vim.fn.fnameescape(os.getenv('WORKTALLY_TEST_FILE')))
  vim.bo.filetype = 'python'
  wait_for('worktally lsp to initialize', client.initialized)

  type_text(table.concat(blocks.typed, '\n') .. '\n')

  vim.fn['copilot#StandinOffer'](table.concat(blocks.copilot_vim, '\n'))
  press('a<Tab><Esc>')
  wait_for('the copilot.vim accept to be reported', function()
    return #marks.sent >= 1
  end)

  -- The person changes one accepted line: the cursor goes to its last character and the
  -- text is typed after it, key by key.
  local row = blocks.edit.line
  local current = vim.api.nvim_buf_get_lines(0, row - 1, row, true)[1]
  vim.api.nvim_win_set_cursor(0, { row, #current - 1 })
  type_text(blocks.edit.text)

  vim.fn.setreg('a', blocks.paste, 'l')
  press('G"ap')
  vim.cmd('write')

  local function settled(result)
    return result.typed == #blocks.typed and result.bulk == #blocks.paste
      and result.ai + result.ai_modified == #blocks.copilot_vim
  end
  local answer, status = nil, nil
  worktally.status(function(err, result) answer = { err = err, result = result } end)
  local done = vim.wait(WAIT_MS, function()
    if answer == nil then
      return false
    end
    status, answer = answer, nil
    if status.err ~= nil or settled(status.result) then
      return true
    end
    worktally.status(function(err, result) answer = { err = err, result = result } end)
    return false
  end, 50)
  if not done then
    fail('worktally/status never counted the session: ' .. vim.inspect(status))
  end
  local status_line = worktally.status_line(status.result)

  local exit = worktally.stop(WAIT_MS)
  if exit == nil then
    fail('worktally lsp did not exit after shutdown')
  end

  local out = io.open(os.getenv('WORKTALLY_TEST_RESULT'), 'w')
  out:write(vim.fn.json_encode({
    lines = vim.api.nvim_buf_get_lines(0, 0, -1, true),
    marks = marks.sent,
    status = status,
    status_line = status_line,
    exit = exit,
  }))
  out:close()
end

local ok, err = pcall(main)
if not ok then
  io.stderr:write('truth_session.lua: ' .. tostring(err) .. '\n')
  vim.cmd('cquit 1')
end
vim.cmd('qall!')
