#!/usr/bin/env bash
# Prepares a machine for Mailway: pnpm, the Debian packages the tests talk to (redis-server and
# redis-sentinel, Postfix's smtp-sink/smtp-source, Dovecot's IMAP and LMTP servers,
# unbound/nsd/ldnsutils for DNSSEC, chromium for the dashboard), and the workspace's dependencies
# from the lockfile.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

# pnpm, pinned to the version in package.json.
want_pnpm=$(node -p "require('./package.json').packageManager.split('@')[1]")
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$want_pnpm" ]; then
  echo "setup: installing pnpm@$want_pnpm"
  npm install -g "pnpm@$want_pnpm" >/dev/null
fi

# Debian packages: redis-server for the agents' tests, postfix for smtp-sink/smtp-source,
# dovecot-imapd to read the mailboxes the delivery agent writes, dovecot-lmtpd for the relay's
# LMTP next hops, dnsmasq (its base package: no daemon is started) to serve MX records to the
# relay's tests, docker-compose to check docker-compose.yml (no Docker engine needed), chromium
# for the admin dashboard's browser test (driven by playwright-core), redis-sentinel for the
# failover tests.
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-sentinel >/dev/null 2>&1 || missing+=(redis-sentinel)
[ -x /usr/sbin/smtp-sink ] || missing+=(postfix)
[ -x /usr/sbin/dovecot ] || missing+=(dovecot-imapd)
[ -x /usr/lib/dovecot/lmtp ] || missing+=(dovecot-lmtpd)
[ -x /usr/sbin/dnsmasq ] || missing+=(dnsmasq-base)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
# DANE tests: a DNSSEC-validating resolver (unbound) in front of an authoritative server (nsd)
# for a zone signed with ldns-signzone (ldnsutils); the tests start their own instances.
[ -x /usr/sbin/unbound ] || missing+=(unbound)
[ -x /usr/sbin/nsd ] || missing+=(nsd)
command -v ldns-signzone >/dev/null 2>&1 || missing+=(ldnsutils)
# The dashboard's browser test: Debian's chromium, driven by playwright-core.
[ -x /usr/bin/chromium ] || missing+=(chromium)
# dkimpy in the system Python: an independent check of the relay's ARC seals.
/usr/bin/python3 -c 'import dkim' >/dev/null 2>&1 || missing+=(python3-dkim)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Workspace dependencies, exactly as locked.
pnpm install --frozen-lockfile
