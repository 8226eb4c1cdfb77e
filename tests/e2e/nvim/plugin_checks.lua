-- Exercises the plugin's pure parts and its copilot.vim mapping hook inside real headless
-- Neovim, with no server, for test_neovim_plugin.py. Reads WORKTALLY_TEST_CASES (JSON list of
-- {before, after, cursor}) and writes WORKTALLY_TEST_RESULT (JSON).

local function keys(text)
  return vim.api.nvim_replace_termcodes(text, true, false, true)
end

local function tab_mapping()
  return vim.fn.maparg('<Tab>', 'i', false, true)
end

local function main()
  local here = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')
  local repo_root = vim.fn.fnamemodify(here, ':h:h:h')
  vim.opt.runtimepath:append(repo_root .. '/lsp/nvim')
  vim.opt.runtimepath:append(here .. '/copilot_standin')
  vim.cmd('runtime plugin/copilot.vim')

  local insertion = require('worktally.insertion')
  local ranges = {}
  for i, case in ipairs(vim.fn.json_decode(os.getenv('WORKTALLY_TEST_CASES'))) do
    local cursor = case.cursor ~= vim.NIL and case.cursor or nil
    ranges[i] = insertion.inserted_range(case.before, case.after, cursor) or vim.NIL
  end

  local copilot = require('worktally.copilot')
  local result = { ranges = ranges, utf16 = insertion.utf16_units('aé😀') }
  result.rhs_before = tab_mapping().rhs
  result.wrapped_first = copilot.hook_copilot_vim()
  result.wrapped_again = copilot.hook_copilot_vim()
  result.rhs_after = tab_mapping().rhs
  result.copilot_sees_its_mapping = vim.fn['copilot#IsMapped']() == 1

  -- No suggestion offered: Tab must fall back to a literal tab.
  vim.cmd('enew')
  vim.api.nvim_feedkeys(keys('ix<Tab>y<Esc>'), 'xt', false)
  result.fallback_line = vim.api.nvim_get_current_line()

  -- A suggestion: the mapping inserts it, and the snapshot it took is consumed by the <Cmd>.
  vim.fn['copilot#StandinOffer']('first line\nsecond line')
  vim.api.nvim_feedkeys(keys('o<Tab><Esc>'), 'xt', false)
  result.accepted_lines = vim.api.nvim_buf_get_lines(0, 0, -1, true)

  local module = require('copilot.suggestion')
  module.setup({ accept = '<M-l>', accept_bound = '<M-k>' })
  local original = module.accept
  result.lua_wrapped_first = copilot.hook_copilot_lua()
  result.lua_wrapped_again = copilot.hook_copilot_lua()
  result.lua_accept_replaced = module.accept ~= original
  result.lua_bound_key_rebound = false
  for _, map in ipairs(vim.api.nvim_get_keymap('i')) do
    if map.lhs == '<M-k>' then
      result.lua_bound_key_rebound = map.callback == module.accept
    end
  end

  -- :WorktallyStatus's line, with the agent up and down (answers as the server gives them).
  local worktally = require('worktally')
  result.status_up = worktally.status_line({ typed = 2, ai = 6, ai_modified = 1, bulk = 3,
    external = 0, paused = false, agent = true, counts = 'agent', note = vim.NIL })
  result.status_down = worktally.status_line({ typed = 0, ai = 0, ai_modified = 0, bulk = 0,
    external = 0, paused = true, agent = false, counts = 'session',
    spool = { batches = 4, records = 9, edit_lines = 12, complete = true },
    note = 'the worktally agent is not running: 4 batches (9 records, 12 lines) wait in the '
      .. 'spool, safe until it starts; counts are this editor session\'s' })

  -- A server that cannot be started is reported once, not once per buffer.
  local notes = {}
  vim.notify = function(message)
    table.insert(notes, message)
  end
  require('worktally').setup({ cmd = { vim.fn.tempname() .. '/no-such-worktally', 'lsp' } })
  vim.cmd('edit ' .. vim.fn.fnameescape(vim.fn.tempname() .. '.py'))
  vim.cmd('edit ' .. vim.fn.fnameescape(vim.fn.tempname() .. '.py'))
  result.missing_server_notes = notes
  result.missing_server_client = require('worktally.client').get() ~= nil

  local out = io.open(os.getenv('WORKTALLY_TEST_RESULT'), 'w')
  out:write(vim.fn.json_encode(result))
  out:close()
end

-- A Lua error in headless Neovim would otherwise leave it waiting for input forever.
local ok, err = pcall(main)
if not ok then
  io.stderr:write('plugin_checks.lua: ' .. tostring(err) .. '\n')
  vim.cmd('cquit 1')
end
vim.cmd('qall!')
