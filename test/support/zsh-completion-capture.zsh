# Prints what zsh's completion offers for a command line, one "<match>WORD</match>" per match.
#
#   zsh -f zsh-completion-capture.zsh SCRIPT|DIR LINE
#
# An interactive zsh on a pseudo-terminal (zsh/zpty) loads the completion system (compinit), with
# SCRIPT sourced after it or DIR (holding _mcrctl) in $fpath, and is sent LINE and a Tab. compadd is wrapped so that the matches are printed instead of
# inserted; the inner shell exits once the completion has run. Used by test/support/shell-completion.ts.
zmodload zsh/zpty || exit 3
zpty z zsh -f -i
zpty -w z "PS1='' PS2='' RPS1='' ; unsetopt beep"
if [[ -d $1 ]]; then
  # A directory: the script is its _mcrctl, found through $fpath as an installed completion is.
  zpty -w z "fpath=(${(q)1} \$fpath); autoload -Uz compinit && compinit -u -D"
else
  zpty -w z "autoload -Uz compinit && compinit -u -D"
  zpty -w z "source ${(q)1}"
fi
zpty -w z "zstyle ':completion:*' list-grouped false; zstyle ':completion:*' insert-tab false; bindkey '^I' complete-word"
zpty -w z 'compadd() {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi
  local -a __hits
  builtin compadd -A __hits "$@"
  (( $#__hits )) || return 1
  local __hit
  for __hit in $__hits; do print -r -- "<match>$__hit</match>"; done
}'
zpty -w z "comppostfuncs=( _capture_end ); _capture_end() { print -r -- '<end>'; exit }"
# Quoted apart, so that the terminal's echo of this line does not match the pattern read below.
zpty -w z "print -r -- '<rea''dy>'"
zpty -r z ready '*<ready>*' || exit 4
zpty -w z "$2"$'\t'
zpty -r z out '*<end>*' || exit 5
print -r -- "$out"
