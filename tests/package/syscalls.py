"""Which system calls a traced run made that picloud.service's filter refuses.

  syscalls.py STRACE_SUMMARY UNIT_FILE

STRACE_SUMMARY is `strace -f -c -o FILE` output; the unit's SystemCallFilter=
lines are read from UNIT_FILE and expanded with `systemd-analyze
syscall-filter` (which needs no running systemd). Prints each call made that
the filter would answer with an error, and exits 1 when there is one.
"""
import re
import subprocess
import sys


def groups():
    """Every @group systemd knows, with its members (names and @groups)."""
    out = subprocess.run(["systemd-analyze", "syscall-filter"], check=True, capture_output=True, text=True).stdout
    table, current = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            current = table.setdefault(line.strip(), [])
        elif current is not None and line.strip() and not line.strip().startswith("#"):
            current.append(line.strip())
    return table


def expand(name, table, seen=None):
    seen = set() if seen is None else seen
    if not name.startswith("@"):
        return {name}
    if name in seen:
        return set()
    seen.add(name)
    out = set()
    for member in table.get(name, []):
        out |= expand(member, table, seen)
    return out


def allowed_by(unit_file, table):
    allowed, first = set(), True
    for line in open(unit_file):
        m = re.match(r"\s*SystemCallFilter=(~?)(.*)", line)
        if not m:
            continue
        names = m.group(2).split()
        if m.group(1):
            for n in names:
                allowed -= expand(n, table)
        else:
            if first:  # an allow-list: systemd always lets @default through
                allowed |= expand("@default", table)
            for n in names:
                allowed |= expand(n, table)
        first = False
    return allowed


def made(summary):
    calls, inside = set(), False
    for line in open(summary):
        if line.startswith("------"):
            inside = not inside
            continue
        if inside:
            fields = line.split()
            if fields:
                calls.add(fields[-1])
    return calls


def main():
    table = groups()
    allowed = allowed_by(sys.argv[2], table)
    calls = made(sys.argv[1])
    refused = sorted(c for c in calls if c not in allowed)
    print(f"system calls made: {len(calls)}; refused by the unit's filter: {', '.join(refused) or 'none'}")
    sys.exit(1 if refused else 0)


if __name__ == "__main__":
    main()
