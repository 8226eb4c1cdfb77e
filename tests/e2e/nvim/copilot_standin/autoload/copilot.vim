" Test stand-in for copilot.vim's autoload functions: copilot#Accept returns the same kind
" of keys as the real one (<C-R><C-O>= of the queued text, then <End>), so a hook on the real
" plugin behaves the same here. copilot#StandinOffer is the test's way to "show" a suggestion.

function! copilot#StandinOffer(text) abort
  let s:offered = a:text
endfunction

function! copilot#TextQueuedForInsertion() abort
  try
    return remove(s:, 'suggestion_text')
  catch
    return ''
  endtry
endfunction

function! copilot#Accept(...) abort
  let text = get(s:, 'offered', '')
  if !empty(text)
    unlet s:offered
    let s:suggestion_text = text
    return "\<C-R>\<C-O>=copilot#TextQueuedForInsertion()\<CR>\<End>"
  endif
  return a:0 ? a:1 : "\t"
endfunction

function! copilot#AcceptLine(...) abort
  return copilot#Accept(a:0 ? a:1 : "\r", '\n')
endfunction

function! copilot#IsMapped() abort
  return hasmapto('copilot#Accept(', 'i')
endfunction
