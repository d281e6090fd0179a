# shellcheck shell=bash
# Helpers shared by the scripts that run a local server (postgres.sh, rabbitmq.sh) and their test
# (tests/service_dirs_test.sh); sourced, not run.

# port_busy PORT: exit status 0 when something accepts connections on 127.0.0.1:PORT.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# reach_for_user USER DIR TAG
#
# The server runs as USER, which must be able to traverse every directory above DIR. A checkout
# under a private directory (root's home, or one mktemp -d made: 0700) would stop it with
# "Permission denied" (initdb; the broker's Erlang cookie). Run as root, this gives each such
# ancestor search permission for others (x, not read) and says so, as TAG. As any other user it
# does nothing: the server then runs as that user, who can reach DIR already.
reach_for_user() {
    local user=$1 tag=$3 d ancestors=()
    [[ $(id -u) == 0 ]] || return 0
    d=$(cd "$2/.." && pwd)
    while [[ $d != / ]]; do
        ancestors=("$d" "${ancestors[@]}")
        d=$(dirname "$d")
    done
    # From the top down, so that a directory is judged once those above it can be passed.
    for d in "${ancestors[@]}"; do
        if ! runuser -u "$user" -- test -x "$d"; then
            chmod o+x "$d"
            echo "$tag: gave $d search permission (o+x) so the $user user can reach its data" >&2
        fi
    done
}
