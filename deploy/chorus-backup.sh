#!/bin/sh
# Nightly backup of a Chorus SQLite database, keeping $KEEP_DAYS days of copies.
# Installed as /opt/chorus/bin/chorus-backup; run by chorus-backup.timer (or cron) as the chorus
# user. Safe while the bot runs (SQLite's online backup API). On PostgreSQL, use pg_dump instead:
# `chorus db backup` prints the exact command.
set -eu
ENV_FILE="${CHORUS_ENV:-/etc/chorus/chorus.env}"
if [ -r "$ENV_FILE" ]; then
    set -a
    . "$ENV_FILE"
    set +a
fi
DIR="${BACKUP_DIR:-/var/backups/chorus}"
KEEP_DAYS="${KEEP_DAYS:-14}"
CHORUS="${CHORUS:-/opt/chorus/bin/chorus}"
mkdir -p "$DIR"
"$CHORUS" db backup "$DIR/chorus-$(date -u +%Y%m%d-%H%M%S).sqlite3"
find "$DIR" -name 'chorus-*.sqlite3' -mtime +"$KEEP_DAYS" -delete
