#!/usr/bin/env bash
# Copied from the team tools (shared/tools/ssh_session.sh) so a fresh clone can run the SSH-drop tests.
# ssh_session.sh - simulate "an engineer SSHed into a jump host whose connection drops".
#
# A private sshd (127.0.0.1:$SSH_HARNESS_PORT, own config/host key/authorized_keys
# under $HARNESS_DIR) plus interactive `ssh -tt` clients living in tmux sessions on a
# private tmux socket.  Nothing in /etc/ssh is touched; only PIDs this script started
# (or that descend from its sshd) are ever signalled.
#
# Usage:
#   ssh_session.sh start                      start private sshd (installs openssh-server if missing)
#   ssh_session.sh run NAME [CMD]             interactive ssh session (pty) running CMD remotely
#                                             (no CMD: interactive login shell; type into it with keys)
#   ssh_session.sh keys NAME KEYS...          tmux send-keys (e.g. a b Enter C-c)
#   ssh_session.sh screen NAME [-e]           capture-pane (-e keeps ANSI)
#   ssh_session.sh wait-for NAME TEXT [TIMEOUT_S]   poll every 50 ms; prints elapsed ms; rc 1 on timeout
#   ssh_session.sh drop NAME [server|client|blackhole]
#        server    (default) SIGKILL the sshd processes serving NAME's connection
#        client    SIGKILL the local ssh client (server sees the TCP close)
#        blackhole iptables-DROP the connection's packets; sshd notices via ClientAlive
#                  (SSH_HARNESS_ALIVE_INTERVAL x SSH_HARNESS_ALIVE_COUNT s), like a real outage
#   ssh_session.sh pids NAME                  remote processes of NAME's connection (pid comm)
#   ssh_session.sh status                     sshd + sessions
#   ssh_session.sh stop                       kill sessions, sshd, its descendants/orphans; rm dir
#
# Environment (all optional):
#   HARNESS_DIR                 state dir           (default ${TMPDIR:-/tmp}/ssh_session_harness)
#   SSH_HARNESS_PORT            port                (default 2222)
#   SSH_HARNESS_COLS/ROWS       tmux size           (default 120x40)
#   SSH_HARNESS_TMUX_SOCKET     tmux -L name        (default ssh_session_harness_PORT)
#   SSH_HARNESS_TERM            TERM inside tmux    (default xterm-256color)
#   SSH_HARNESS_ALIVE_INTERVAL  ClientAliveInterval (default 2)
#   SSH_HARNESS_ALIVE_COUNT     ClientAliveCountMax (default 2)
#   SSH_HARNESS_DROP_GRACE      seconds drop waits before reporting survivors (default 2)
#   SSH_HARNESS_DROP_SIGNAL     signal used by drop server/client (default KILL)
#   SSH_HARNESS_BLACKHOLE_MAX   max seconds drop blackhole waits for sshd to notice (default 120)
#   SSHD_BIN                    sshd binary         (default /usr/sbin/sshd)
set -euo pipefail

HARNESS_DIR="${HARNESS_DIR:-${TMPDIR:-/tmp}/ssh_session_harness}"
PORT="${SSH_HARNESS_PORT:-2222}"
COLS="${SSH_HARNESS_COLS:-120}"
ROWS="${SSH_HARNESS_ROWS:-40}"
TSOCK="${SSH_HARNESS_TMUX_SOCKET:-ssh_session_harness_$PORT}"
TTERM="${SSH_HARNESS_TERM:-xterm-256color}"
ALIVE_INTERVAL="${SSH_HARNESS_ALIVE_INTERVAL:-2}"
ALIVE_COUNT="${SSH_HARNESS_ALIVE_COUNT:-2}"
DROP_GRACE="${SSH_HARNESS_DROP_GRACE:-2}"
DROP_SIGNAL="${SSH_HARNESS_DROP_SIGNAL:-KILL}"
BLACKHOLE_MAX="${SSH_HARNESS_BLACKHOLE_MAX:-120}"
SSHD_BIN="${SSHD_BIN:-/usr/sbin/sshd}"
IPT_TAG="ssh_session_harness:${PORT}"

KEY="$HARNESS_DIR/client_ed25519"
CONF="$HARNESS_DIR/sshd_config"
PIDFILE="$HARNESS_DIR/sshd.pid"        # "PID STARTTIME" of the sshd we launched
SESS="$HARNESS_DIR/sessions"           # one dir per tmux session we created
ORPHANS="$HARNESS_DIR/orphans"         # "PID STARTTIME comm" seen under our sshd (for stop)

die() { echo "ssh_session: $*" >&2; exit 2; }
tm() { tmux -L "$TSOCK" "$@"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# --- process helpers (all by PID, verified by /proc starttime against PID reuse) ---
starttime() { [ -r "/proc/$1/stat" ] || return 1; local s; s=$(<"/proc/$1/stat") || return 1; s=${s##*) }; set -- $s; echo "${20}"; }
ppid_of()   { [ -r "/proc/$1/stat" ] || return 1; local s; s=$(<"/proc/$1/stat") || return 1; s=${s##*) }; set -- $s; echo "$2"; }
comm_of()   { cat "/proc/$1/comm" 2>/dev/null || true; }
alive_same() { # PID STARTTIME -> true if that exact process still exists (and is not a zombie)
  local st; st=$(starttime "$1") || return 1; [ "$st" = "$2" ] || return 1
  local s; s=$(<"/proc/$1/stat"); s=${s##*) }; [ "${s%% *}" != Z ]
}
descendants_of() { # all descendants of PID (one ps snapshot), parents before children
  ps -e -o pid=,ppid= | awk -v root="$1" '
    { kids[$2] = kids[$2] " " $1 }
    END { q[1] = root; h = 1; t = 1
          while (h <= t) { n = split(kids[q[h]], k, " "); h++
                           for (i = 1; i <= n; i++) { print k[i]; q[++t] = k[i] } } }'
}
sshd_pid() { # prints PID of our sshd if alive
  [ -f "$PIDFILE" ] || return 1; local pid st; read -r pid st <"$PIDFILE"
  alive_same "$pid" "$st" && echo "$pid"
}
kill_verified() { # SIG PID STARTTIME
  alive_same "$2" "$3" && kill -s "$1" "$2" 2>/dev/null || true
}

ensure_sshd_installed() {
  [ -x "$SSHD_BIN" ] && return 0
  echo "installing openssh-server ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq openssh-server >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq openssh-server >/dev/null; }
  [ -x "$SSHD_BIN" ] || die "sshd not found at $SSHD_BIN after install"
}

ssh_base() { # prints the ssh client argv, one per line
  printf '%s\n' ssh -tt -p "$PORT" -i "$KEY" -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile="$HARNESS_DIR/known_hosts" -o LogLevel=ERROR -o BatchMode=yes \
    -o IdentitiesOnly=yes -o ControlMaster=no -o ControlPath=none root@127.0.0.1
}

cmd_start() {
  if pid=$(sshd_pid); then echo "sshd already running pid=$pid port=$PORT dir=$HARNESS_DIR"; return 0; fi
  ensure_sshd_installed
  if ss -Hltn "sport = :$PORT" | grep -q .; then die "port $PORT already in use (set SSH_HARNESS_PORT)"; fi
  mkdir -p "$HARNESS_DIR" "$SESS"; chmod 700 "$HARNESS_DIR"; : >"$ORPHANS"
  [ -f "$HARNESS_DIR/host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C harness-host -f "$HARNESS_DIR/host_ed25519_key"
  [ -f "$KEY" ] || ssh-keygen -q -t ed25519 -N '' -C harness-client -f "$KEY"
  cp "$KEY.pub" "$HARNESS_DIR/authorized_keys"; chmod 600 "$HARNESS_DIR/authorized_keys"
  # OpenSSH's compiled-in privilege-separation dir; created (empty, root 0755) only if absent.
  [ -d /run/sshd ] || { mkdir -p -m 0755 /run/sshd; echo "created /run/sshd (privsep dir)" >&2; }
  cat >"$CONF" <<EOF
# private sshd for ssh_session.sh - not used by anything else
Port $PORT
ListenAddress 127.0.0.1
HostKey $HARNESS_DIR/host_ed25519_key
PidFile $HARNESS_DIR/sshd.daemon.pid
AuthorizedKeysFile $HARNESS_DIR/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
PrintLastLog no
X11Forwarding no
ClientAliveInterval $ALIVE_INTERVAL
ClientAliveCountMax $ALIVE_COUNT
LogLevel VERBOSE
EOF
  "$SSHD_BIN" -t -f "$CONF" || die "sshd config test failed"
  # setsid: own session, so the harness caller's terminal/process group cannot take it down.
  setsid "$SSHD_BIN" -f "$CONF" -D -e </dev/null >>"$HARNESS_DIR/sshd.log" 2>&1 &
  local pid=$! i
  for i in $(seq 100); do
    ss -Hltn "sport = :$PORT" | grep -q . && break; sleep 0.05
  done
  [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$SSHD_BIN")" ] || { cat "$HARNESS_DIR/sshd.log" >&2; die "sshd did not start"; }
  echo "$pid $(starttime "$pid")" >"$PIDFILE"
  ssh_args=(); mapfile -t ssh_args < <(ssh_base)
  ssh_args=("${ssh_args[@]/-tt/-T}")
  "${ssh_args[@]}" true </dev/null || { cat "$HARNESS_DIR/sshd.log" >&2; die "test login failed"; }
  echo "sshd started pid=$pid port=$PORT dir=$HARNESS_DIR (tmux -L $TSOCK)"
}

cmd_run() {
  [ $# -ge 1 ] || die "usage: run NAME [CMD]"
  local name=$1; shift; local cmd="$*"   # empty CMD = interactive login shell
  sshd_pid >/dev/null || die "sshd not running (run: start)"
  tm has-session -t "=$name" 2>/dev/null && die "session $name already exists"
  local d="$SESS/$name"; mkdir -p "$d"
  local ssh_args; mapfile -t ssh_args < <(ssh_base)
  { echo '#!/usr/bin/env bash'; printf 'exec'; printf ' %q' "${ssh_args[@]}"; [ -n "$cmd" ] && printf ' %q' "$cmd"; echo; } >"$d/client.sh"
  chmod +x "$d/client.sh"
  printf '%s\n' "$cmd" >"$d/cmd"
  # remain-on-exit keeps the final screen ("Connection ... closed") capturable.
  tm new-session -d -s "$name" -x "$COLS" -y "$ROWS" -e TERM="$TTERM" "exec $(printf %q "$d/client.sh")" \; \
     set-option -t "$name" remain-on-exit on >/dev/null
  local cpid; cpid=$(tm display-message -p -t "=$name:" '#{pane_pid}')
  echo "$cpid $(starttime "$cpid" || echo 0)" >"$d/client.pid"
  echo "session $name: ssh client pid=$cpid"
}

client_pid() { local d="$SESS/$1" pid st; [ -f "$d/client.pid" ] || die "unknown session $1"; read -r pid st <"$d/client.pid"; alive_same "$pid" "$st" && echo "$pid"; }

client_lport() { # local port of the ssh client's connection to our sshd
  local cpid=$1
  ss -Htnp state established "( dport = :$PORT )" 2>/dev/null | awk -v p="pid=$cpid," '
    index($0,p) { n=split($3,a,":"); print a[n]; exit }'
}

serving_pids() { # sshd processes holding the server end of the connection from LPORT
  ss -Htnp state established "( sport = :$PORT and dport = :$1 )" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u
}

connection_root() { # per-connection sshd (direct child of our listener) for LPORT
  local lpid=$1 p q
  for p in $(serving_pids "$2"); do
    q=$p
    while [ -n "$q" ] && [ "$q" != 1 ] && [ "$q" != 0 ]; do
      local par; par=$(ppid_of "$q") || break
      [ "$par" = "$lpid" ] && { echo "$q"; return 0; }
      q=$par
    done
  done
  return 1
}

session_procs() { # NAME -> lines "PID comm" of everything under the serving sshd (incl. sshd)
  local name=$1 lpid cpid lport root
  lpid=$(sshd_pid) || die "sshd not running"
  cpid=$(client_pid "$name") || die "ssh client of $name is gone"
  lport=$(client_lport "$cpid"); [ -n "$lport" ] || die "no TCP connection for $name"
  root=$(connection_root "$lpid" "$lport") || die "no sshd serving port $lport"
  echo "$root $(comm_of "$root")"
  local p; for p in $(descendants_of "$root"); do echo "$p $(comm_of "$p")"; done
}

cmd_pids() { [ $# -eq 1 ] || die "usage: pids NAME"; session_procs "$1"; }

cmd_keys() { [ $# -ge 2 ] || die "usage: keys NAME KEYS..."; local n=$1; shift; tm send-keys -t "=$n:" "$@"; }

cmd_screen() {
  [ $# -ge 1 ] || die "usage: screen NAME [-e]"; local n=$1; shift
  tm capture-pane -p "$@" -t "=$n:"
}

cmd_wait_for() {
  [ $# -ge 2 ] || die "usage: wait-for NAME TEXT [TIMEOUT_S]"
  local n=$1 text=$2 timeout=${3:-30} t0 now scr tmo_ms
  tmo_ms=$(awk -v t="$timeout" 'BEGIN { printf "%d", t * 1000 }')   # fractional seconds allowed
  t0=$(now_ms)
  while :; do
    scr=$(tm capture-pane -p -t "=$n:" 2>/dev/null || true)
    now=$(now_ms)
    if [[ $scr == *"$text"* ]]; then echo "$((now - t0))"; return 0; fi
    if (( now - t0 >= tmo_ms )); then echo "timeout after $((now - t0)) ms waiting for: $text" >&2; return 1; fi
    sleep 0.05
  done
}

record_orphans() { # remember non-sshd processes under a connection so stop can reap them
  local pid comm
  while read -r pid comm; do
    [ "$comm" = sshd ] && continue
    echo "$pid $(starttime "$pid" || echo 0) $comm" >>"$ORPHANS"
  done
}

cmd_drop() {
  [ $# -ge 1 ] || die "usage: drop NAME [server|client|blackhole]"
  local name=$1 mode=${2:-server} lpid cpid lport root procs t0
  lpid=$(sshd_pid) || die "sshd not running"
  cpid=$(client_pid "$name") || die "ssh client of $name is gone"
  lport=$(client_lport "$cpid"); [ -n "$lport" ] || die "no TCP connection for $name"
  root=$(connection_root "$lpid" "$lport") || die "no sshd serving port $lport"
  procs=$(session_procs "$name")
  local remote; remote=$(awk '$2!="sshd"' <<<"$procs")
  record_orphans <<<"$procs"
  echo "connection 127.0.0.1:$lport -> :$PORT; client pid=$cpid; serving sshd tree:"; sed 's/^/  /' <<<"$procs"
  t0=$(now_ms)
  case $mode in
    server)
      # kill every sshd process of this connection (monitor + session child), leaves the user's
      # processes alone: the pty master closes -> kernel hangs up the tty -> SIGHUP to the session leader.
      local p c; while read -r p c; do
        [ "$c" = sshd ] && { kill -s "$DROP_SIGNAL" "$p" 2>/dev/null || true; echo "  sent SIG$DROP_SIGNAL to sshd $p"; }
      done <<<"$procs" ;;
    client)
      kill -s "$DROP_SIGNAL" "$cpid"; echo "  sent SIG$DROP_SIGNAL to ssh client $cpid" ;;
    blackhole)
      command -v iptables >/dev/null || die "iptables not available"
      iptables -I INPUT -i lo -p tcp -s 127.0.0.1 --sport "$lport" -d 127.0.0.1 --dport "$PORT" -m comment --comment "$IPT_TAG" -j DROP
      iptables -I INPUT -i lo -p tcp -s 127.0.0.1 --sport "$PORT" -d 127.0.0.1 --dport "$lport" -m comment --comment "$IPT_TAG" -j DROP
      echo "$lport" >>"$HARNESS_DIR/blackholed"
      echo "  packets of :$lport<->:$PORT dropped; waiting (max ${BLACKHOLE_MAX}s) for sshd to notice: ClientAlive"
      echo "  (${ALIVE_INTERVAL}s x ${ALIVE_COUNT}) if the session is quiet; a session that keeps printing may only be noticed by TCP"
      local rst; rst=$(starttime "$root")
      while alive_same "$root" "$rst"; do
        (( $(now_ms) - t0 > BLACKHOLE_MAX * 1000 )) && { echo "  sshd still alive after ${BLACKHOLE_MAX} s" >&2; break; }
        sleep 0.1
      done
      alive_same "$root" "$rst" || echo "  serving sshd gone after $(( $(now_ms) - t0 )) ms (client is left frozen, like a real dead link)"
      unblackhole "$lport" ;;
    *) die "unknown drop mode $mode" ;;
  esac
  sleep "$DROP_GRACE"
  echo "after ${DROP_GRACE}s:"
  local pid comm st
  while read -r pid comm; do
    [ -n "$pid" ] || continue
    st=$(grep -m1 "^$pid " "$ORPHANS" | awk '{print $2}')
    if alive_same "$pid" "$st"; then
      echo "  STILL ALIVE pid=$pid comm=$comm ppid=$(ppid_of "$pid") state=$(awk '{print $3}' "/proc/$pid/stat")"
    else
      echo "  gone pid=$pid comm=$comm"
    fi
  done <<<"$remote"
}

unblackhole() {
  local lport=$1
  iptables -D INPUT -i lo -p tcp -s 127.0.0.1 --sport "$lport" -d 127.0.0.1 --dport "$PORT" -m comment --comment "$IPT_TAG" -j DROP 2>/dev/null || true
  iptables -D INPUT -i lo -p tcp -s 127.0.0.1 --sport "$PORT" -d 127.0.0.1 --dport "$lport" -m comment --comment "$IPT_TAG" -j DROP 2>/dev/null || true
}

cmd_status() {
  local pid; if pid=$(sshd_pid); then echo "sshd pid=$pid port=$PORT dir=$HARNESS_DIR"; else echo "sshd not running"; fi
  [ -d "$SESS" ] || return 0
  local d; for d in "$SESS"/*/; do
    [ -d "$d" ] || continue; local n; n=$(basename "$d")
    if tm has-session -t "=$n" 2>/dev/null; then
      local c; c=$(cat "$d/cmd"); echo "session $n: pane_dead=$(tm display-message -p -t "=$n:" "#{pane_dead} status=#{pane_dead_status}") cmd=${c:-(login shell)}"
    else echo "session $n: gone"; fi
  done
}

cmd_stop() {
  local lpid="" lst="" all=() p
  [ -f "$PIDFILE" ] && read -r lpid lst <"$PIDFILE" || true
  # 1. everything currently below our sshd (connections + user processes), with starttimes
  if [ -n "$lpid" ] && alive_same "$lpid" "$lst"; then
    for p in $(descendants_of "$lpid"); do all+=("$p $(starttime "$p" || echo 0)"); done
  fi
  # 2. processes recorded at drop time (possibly reparented orphans)
  [ -f "$ORPHANS" ] && while read -r p st _; do all+=("$p $st"); done <"$ORPHANS"
  # 3. tmux sessions we created (kills the ssh clients with them); then the private socket file
  local sockpath; sockpath=$(tm display-message -p '#{socket_path}' 2>/dev/null || true)
  if [ -d "$SESS" ]; then
    for d in "$SESS"/*/; do [ -d "$d" ] || continue; tm kill-session -t "=$(basename "$d")" 2>/dev/null || true; done
  fi
  if [ -n "$sockpath" ] && ! tm list-sessions >/dev/null 2>&1; then rm -f "$sockpath"; fi
  # 4. the listener, then the recorded processes: TERM, then KILL survivors
  [ -n "$lpid" ] && kill_verified TERM "$lpid" "$lst"
  local e; for e in "${all[@]}"; do kill_verified TERM $e; done
  sleep 0.5
  [ -n "$lpid" ] && kill_verified KILL "$lpid" "$lst"
  for e in "${all[@]}"; do kill_verified KILL $e; done
  [ -f "$HARNESS_DIR/blackholed" ] && while read -r p; do unblackhole "$p"; done <"$HARNESS_DIR/blackholed"
  rm -rf "$HARNESS_DIR"
  echo "stopped (sshd ${lpid:-none}; ${#all[@]} descendant/orphan pids checked and killed if still alive; $HARNESS_DIR removed)"
}

sub=${1:-}; [ $# -gt 0 ] && shift
case $sub in
  start) cmd_start "$@" ;;
  run) cmd_run "$@" ;;
  keys) cmd_keys "$@" ;;
  screen) cmd_screen "$@" ;;
  wait-for) cmd_wait_for "$@" ;;
  drop) cmd_drop "$@" ;;
  pids) cmd_pids "$@" ;;
  status) cmd_status "$@" ;;
  stop) cmd_stop "$@" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
