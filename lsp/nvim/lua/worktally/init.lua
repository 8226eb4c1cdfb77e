-- worktally for Neovim (0.7+): runs `worktally lsp` for file buffers, marks copilot accepts
-- as AI edits, and adds :WorktallyStatus and :WorktallyPreview.
--
--   require('worktally').setup({ cmd = { 'worktally', 'lsp' } })

local client = require('worktally.client')
local copilot = require('worktally.copilot')
local paste = require('worktally.paste')

local M = {}

local defaults = {
  -- The server command; the CLI is the first element (used by :WorktallyPreview too).
  cmd = { 'worktally', 'lsp' },
  -- nil: every file buffer; a list: only buffers of these filetypes.
  filetypes = nil,
  -- The server's root (one server per editor); nil means the cwd at start.
  root_dir = nil,
  -- Hook copilot.vim / copilot.lua accepts when they are loaded.
  copilot = true,
  -- Send worktally/paste for p / P of a multi-line register (remaps p and P).
  mark_pastes = false,
  -- :WorktallyPreview opens a terminal split (true) or echoes the output (false).
  preview_in_terminal = true,
}

M.options = vim.deepcopy(defaults)

local function wanted(bufnr)
  if vim.bo[bufnr].buftype ~= '' then
    return false
  end
  if vim.api.nvim_buf_get_name(bufnr) == '' then
    return false
  end
  local filetypes = M.options.filetypes
  if filetypes == nil then
    return true
  end
  return vim.tbl_contains(filetypes, vim.bo[bufnr].filetype)
end

--- Attach `bufnr` (default: current) if it is a file buffer worktally should watch.
---@param bufnr integer|nil
---@return integer|nil client id
function M.attach(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  if bufnr == 0 then
    bufnr = vim.api.nvim_get_current_buf()
  end
  if not vim.api.nvim_buf_is_valid(bufnr) or not wanted(bufnr) then
    return nil
  end
  return client.attach(bufnr)
end

local SOURCES = { 'typed', 'ai', 'ai_modified', 'bulk', 'external' }
local LABELS = { ai_modified = 'ai modified' }

--- The one line :WorktallyStatus echoes for a `worktally/status` answer. With no agent
--- running it says so first, with what waits in the spool, so the counts (this session's
--- only) are never mistaken for the day's.
---@param result table
---@return string
function M.status_line(result)
  local parts = {}
  for _, key in ipairs(SOURCES) do
    table.insert(parts, (LABELS[key] or key) .. ' ' .. tostring(result[key] or 0))
  end
  local counts = table.concat(parts, ' · ')
  local line
  if result.agent == false then
    local note = result.note
    if type(note) ~= 'string' then
      note = 'the worktally agent is not running'
    end
    line = 'worktally: ' .. note .. '. This session: ' .. counts
  else
    line = 'worktally today: ' .. counts
  end
  if result.paused then
    line = line .. ' (paused)'
  end
  return line
end

--- Ask the server for its counts; `callback(err, result)`, or echo them when omitted.
---@param callback fun(err: table|nil, result: table|nil)|nil
function M.status(callback)
  client.request('worktally/status', {}, function(err, result)
    if callback ~= nil then
      callback(err, result)
    elseif err ~= nil then
      vim.api.nvim_echo({ { 'worktally: ' .. tostring(err.message or err), 'ErrorMsg' } }, true, {})
    else
      vim.api.nvim_echo({ { M.status_line(result or {}) } }, true, {})
    end
  end)
end

--- Show what the next report would send (`worktally report preview`).
function M.preview()
  local argv = { M.options.cmd[1], 'report', 'preview' }
  if M.options.preview_in_terminal then
    vim.cmd('botright new')
    vim.fn.termopen(argv)
    return
  end
  local output = vim.fn.system(argv)
  vim.api.nvim_echo({ { output } }, true, {})
end

--- Stop the server, waiting up to `timeout_ms` (default 5000) for it to flush and exit.
---@param timeout_ms integer|nil
---@return table|nil exit status {code, signal}
function M.stop(timeout_ms)
  return client.stop(timeout_ms or 5000)
end

---@param opts table|nil see `defaults` above
function M.setup(opts)
  M.options = vim.tbl_deep_extend('force', vim.deepcopy(defaults), opts or {})
  client.configure(M.options)

  vim.api.nvim_create_user_command('WorktallyStatus', function()
    M.status()
  end, { desc = 'worktally: counts of recorded edits' })
  vim.api.nvim_create_user_command('WorktallyPreview', function()
    M.preview()
  end, { desc = 'worktally: what the next report would send' })

  local group = vim.api.nvim_create_augroup('worktally', { clear = true })
  vim.api.nvim_create_autocmd({ 'BufReadPost', 'BufNewFile', 'FileType' }, {
    group = group,
    callback = function(args)
      M.attach(args.buf)
    end,
  })
  if M.options.copilot then
    -- copilot.vim maps <Tab> at VimEnter and copilot.lua loads lazily: look again later.
    vim.api.nvim_create_autocmd({ 'VimEnter', 'InsertEnter' }, {
      group = group,
      callback = copilot.install,
    })
    copilot.install()
  end
  if M.options.mark_pastes then
    paste.install()
  end
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(bufnr) then
      M.attach(bufnr)
    end
  end
end

return M
