#!/bin/sh
exec /usr/bin/node /usr/lib/f2b-store/dist/cli/f2b-store.js "$@"
