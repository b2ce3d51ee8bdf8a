#!/bin/sh
# Wait for the database, then run the migrations; decide on whenready's exit status.
#
#   DATABASE_URL=postgres://app@db/app PGPASSWORD=... ./wait-then-migrate.sh [COMMAND...]
#
# COMMAND defaults to `alembic upgrade head`. A timeout is retried up to
# MAX_ATTEMPTS times (default 3); a permanent failure is never retried.
# No `set -e`: a non-zero status from whenready is an answer to act on, not a crash.
set -u

: "${DATABASE_URL:?set DATABASE_URL, e.g. postgres://app@db/app (password in PGPASSWORD)}"
max_attempts=${MAX_ATTEMPTS:-3}
if [ "$#" -eq 0 ]; then
    set -- alembic upgrade head
fi

attempt=1
while :; do
    # -q: silent unless it fails, then one line with the reason (password shown as ***).
    whenready -q -t 60s "$DATABASE_URL"
    status=$?
    case $status in
        0)
            echo "database ready, migrating: $*" >&2
            exec "$@"
            ;;
        1)
            # Timed out: the database may still be starting (a slow restore, a
            # failover). Worth another try, up to a limit.
            if [ "$attempt" -ge "$max_attempts" ]; then
                echo "database not ready after $attempt attempts of 60s, giving up" >&2
                exit 1
            fi
            attempt=$((attempt + 1))
            echo "database not ready yet, trying again ($attempt/$max_attempts)" >&2
            ;;
        2)
            # Usage error: a malformed DATABASE_URL or a bug in this script.
            # Retrying cannot help.
            echo "whenready rejected its arguments: check DATABASE_URL and this script" >&2
            exit 2
            ;;
        3)
            # Permanent: wrong password, missing database, bad certificate. The
            # server answered; waiting longer changes nothing. Do not retry.
            echo "database refused us for good (see the reason above); not retrying" >&2
            exit 3
            ;;
        130 | 143)
            # Interrupted by SIGINT / SIGTERM while waiting: stop as asked.
            exit "$status"
            ;;
        *)
            echo "unexpected status $status from whenready" >&2
            exit "$status"
            ;;
    esac
done
