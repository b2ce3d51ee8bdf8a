#!/bin/sh
# A stand-in for a server that spawns child processes (workers, helpers, a shell
# pipeline). Orphans of such programs need an init to reap them.
echo "server: db:5432 is reachable, starting with pid $$" >&2
sleep 3600 &
sleep 3600 &
wait
