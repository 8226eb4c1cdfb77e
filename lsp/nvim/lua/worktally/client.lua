-- The one `worktally lsp` client of this Neovim: starts it, attaches file buffers to it and
-- sends our custom messages, hiding the API differences between Neovim 0.7 and 0.10+.

local M = {}

local NAME = 'worktally'

---@type integer|nil
local client_id = nil
---@type table|nil
local exit_status = nil
---@type table
local options = {}

-- 0.11 made client methods take `self` (client:notify); 0.7-0.10 take plain arguments.
local METHOD_CALLS = vim.fn.has('nvim-0.11') == 1

local function invoke(client, method, ...)
  if METHOD_CALLS then
    return client[method](client, ...)
  end
  return client[method](...)
end

local function config()
  return {
    name = NAME,
    cmd = options.cmd,
    root_dir = options.root_dir or (vim.uv or vim.loop).cwd(),
    -- Without 0, a change made just before the client stops is never sent.
    flags = { debounce_text_changes = 0 },
    on_exit = function(code, signal)
      exit_status = { code = code, signal = signal }
      client_id = nil
    end,
  }
end

--- Remember the options given to setup(); the client starts on the first attach.
---@param opts table
function M.configure(opts)
  options = opts
  unavailable = false
end

--- The running client object, or nil.
function M.get()
  if client_id == nil then
    return nil
  end
  return vim.lsp.get_client_by_id(client_id)
end

-- Set when the server cannot be started, so each new buffer does not repeat the error.
local unavailable = false

local function startable()
  if unavailable then
    return false
  end
  if vim.fn.executable(options.cmd[1]) == 1 then
    return true
  end
  unavailable = true
  vim.notify(string.format(
    "worktally: cannot run '%s'; install worktally or give its full path: "
      .. "require('worktally').setup({ cmd = { '/path/to/worktally', 'lsp' } })",
    options.cmd[1]), vim.log.levels.WARN)
  return false
end

--- Attach `bufnr`, starting the server the first time (one server for the whole editor).
---@param bufnr integer
---@return integer|nil client id
function M.attach(bufnr)
  if client_id == nil and not startable() then
    return nil
  end
  if vim.lsp.start ~= nil then
    if client_id == nil then
      exit_status = nil
    end
    client_id = vim.lsp.start(config(), {
      bufnr = bufnr,
      reuse_client = function(client, conf)
        return client.name == conf.name
      end,
    })
    return client_id
  end
  if client_id == nil then
    exit_status = nil
    client_id = vim.lsp.start_client(config())
    if client_id == nil then
      return nil
    end
  end
  vim.lsp.buf_attach_client(bufnr, client_id)
  return client_id
end

--- Send a notification if the client runs; returns whether it was sent.
---@param method string
---@param params table
---@return boolean
function M.notify(method, params)
  local client = M.get()
  if client == nil then
    return false
  end
  return invoke(client, 'notify', method, params) ~= false
end

--- Send a request; `handler(err, result)` runs when the answer arrives.
---@param method string
---@param params table
---@param handler fun(err: table|nil, result: any)
---@return boolean sent
function M.request(method, params, handler)
  local client = M.get()
  if client == nil then
    handler({ message = 'worktally lsp is not running' }, nil)
    return false
  end
  local ok = invoke(client, 'request', method, params, function(err, result)
    handler(err, result)
  end)
  return ok ~= false
end

--- True once the server answered `initialize` (0.7 kills an uninitialised client on stop).
function M.initialized()
  local client = M.get()
  return client ~= nil and client.initialized == true
end

--- Ask the server to shut down and wait up to `timeout_ms` for it to exit.
---@param timeout_ms integer
---@return table|nil exit status {code, signal}, nil if it did not exit in time
function M.stop(timeout_ms)
  local client = M.get()
  if client == nil then
    return exit_status
  end
  invoke(client, 'stop')
  vim.wait(timeout_ms, function()
    return exit_status ~= nil
  end, 20)
  return exit_status
end

return M
