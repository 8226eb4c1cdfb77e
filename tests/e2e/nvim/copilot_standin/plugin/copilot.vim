" Test stand-in for copilot.vim's plugin file: the same <Tab> mapping, no network.
if exists('g:loaded_copilot')
  finish
endif
let g:loaded_copilot = 1

imap <script><silent><nowait><expr> <Tab> copilot#Accept()
imap <script><silent><nowait><expr> <Plug>(copilot-accept-line) copilot#AcceptLine()
