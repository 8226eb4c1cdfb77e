-- An editing session driven inside real headless Neovim for test_neovim_e2e.py: types two
-- lines key by key, accepts a copilot.vim and a copilot.lua suggestion (stand-ins), pastes
-- an unmarked block, saves, waits until `worktally/status` counts it all, then stops
-- `worktally lsp` cleanly and writes a JSON summary.
--
-- Environment: WORKTALLY_BIN (the worktally executable), WORKTALLY_TEST_FILE (the file to
-- edit), WORKTALLY_TEST_RESULT (where the summary goes), WORKTALLY_TEST_BLOCKS (JSON:
-- {typed, copilot_vim, copilot_lua, paste}, each a list of lines), WORKTALLY_TEST_MARK_PASTES
-- ("1" turns on the plugin's paste marking).

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
  -- 'x' runs the keys now, 't' makes them count as typed so mappings apply.
  vim.api.nvim_feedkeys(keys(sequence), 'xt', false)
end

-- One insert per key: each keystroke reaches the server as its own didChange, as when a
-- person types (a single feedkeys of a whole line would arrive as one change).
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
  -- -u NONE loads no plugins: load the copilot.vim stand-in as Neovim would.
  vim.cmd('runtime plugin/copilot.vim')
  local copilot_lua = require('copilot.suggestion')
  copilot_lua.setup({ accept = '<M-l>' })

  local blocks = vim.fn.json_decode(os.getenv('WORKTALLY_TEST_BLOCKS'))
  local worktally = require('worktally')
  local client = require('worktally.client')
  local marks = require('worktally.marks')
  worktally.setup({
    cmd = { os.getenv('WORKTALLY_BIN'), 'lsp' },
    filetypes = { 'python' },
    mark_pastes = os.getenv('WORKTALLY_TEST_MARK_PASTES') == '1',
  })

  vim.cmd('edit ' .. vim.fn.fnameescape(os.getenv('WORKTALLY_TEST_FILE')))
  -- With -u NONE there is no filetype detection and languageId would be empty.
  vim.bo.filetype = 'python'
  wait_for('worktally lsp to initialize', client.initialized)

  type_text(table.concat(blocks.typed, '\n') .. '\n')

  vim.fn['copilot#StandinOffer'](table.concat(blocks.copilot_vim, '\n'))
  press('a<Tab><Esc>')
  wait_for('the copilot.vim accept to be reported', function()
    return #marks.sent >= 1
  end)

  vim.fn.setreg('a', blocks.paste, 'l')
  press('"ap')

  -- Code copied from a browser AI chat (the test handed it to the native host first): to
  -- the editor it is just another put.
  if blocks.browser ~= nil then
    vim.fn.setreg('b', blocks.browser, 'l')
    press('G"bp')
  end

  press('Go<Esc>')
  copilot_lua.standin_offer(table.concat(blocks.copilot_lua, '\n'))
  press('a<M-l><Esc>')
  wait_for('the copilot.lua accept to be reported', function()
    local last = marks.sent[#marks.sent]
    return last ~= nil and last.method == 'worktally/aiEdit' and last.range.start.line > 5
  end)

  vim.cmd('write')

  -- Edits settle in the server before they count: ask until the counts reach what was
  -- done (lines per source), or fail with the last answer.
  local want = { typed = #blocks.typed, ai = #blocks.copilot_vim + #blocks.copilot_lua,
                 bulk = #blocks.paste + #(blocks.browser or {}) }
  local answer, status = nil, nil
  local function settled(result)
    for source, lines in pairs(want) do
      if result[source] ~= lines then
        return false
      end
    end
    return true
  end
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

  local exit = worktally.stop(WAIT_MS)
  if exit == nil then
    fail('worktally lsp did not exit after shutdown')
  end

  local summary = {
    lines = vim.api.nvim_buf_get_lines(0, 0, -1, true),
    marks = marks.sent,
    status = status,
    exit = exit,
    nvim = vim.version(),
  }
  local out = io.open(os.getenv('WORKTALLY_TEST_RESULT'), 'w')
  out:write(vim.fn.json_encode(summary))
  out:close()
end

-- A Lua error in headless Neovim would otherwise leave it waiting for input forever.
local ok, err = pcall(main)
if not ok then
  io.stderr:write('session.lua: ' .. tostring(err) .. '\n')
  vim.cmd('cquit 1')
end
vim.cmd('qall!')
