#!/usr/bin/env python3
"""Statements a server ran, read from a PostgreSQL log written with log_statement=all
(bench/shapes.sh turns it on for one process's connections through the URL's `options`).

    statements.py count LOG OFFSET REQUESTS     → statements per request (one decimal)
    statements.py pgbench LOG OFFSET OUT        → OUT: a pgbench script of the logged statements,
                                                  with their bound parameters inlined

Only the log after byte OFFSET is read. Background work of a Leadgraph process (job runners,
the outbox relay, the cached session check) is left out, as in tests/api/helpers.rs'
`request_statements`. Transaction control (BEGIN/COMMIT) is counted: it is a round trip too.
"""
import re
import sys

RECORD = re.compile(r"^\d{4}-\d\d-\d\d [\d:.]+ \w+ \[(\d+)\] (\w+):  (.*)$")
STATEMENT = re.compile(r"^(?:statement|execute [^:]*): (.*)$", re.S)
BACKGROUND = ("outbox_events", '"jobs"', "FROM jobs", "UPDATE jobs", "INTO jobs", "LISTEN ",
              "pg_notify", '"refresh_tokens"."user_id", "refresh_tokens"."org_id"',
              'SELECT "memberships"."role" FROM "memberships"')


def records(path, offset):
    with open(path, "rb") as f:
        f.seek(offset)
        text = f.read().decode("utf-8", "replace")
    current = None
    for line in text.splitlines():
        m = RECORD.match(line)
        if m:
            if current:
                yield current
            current = [m.group(1), m.group(2), m.group(3)]
        elif current:
            current[2] += "\n" + line
    if current:
        yield current


def statements(path, offset):
    """(sql, {param: literal}) in log order, background left out."""
    out, last_by_pid = [], {}
    for pid, level, msg in records(path, offset):
        if level == "LOG":
            m = STATEMENT.match(msg)
            if m and not any(b in m.group(1) for b in BACKGROUND):
                out.append([m.group(1), {}])
                last_by_pid[pid] = out[-1]
            else:
                last_by_pid.pop(pid, None)
        elif level == "DETAIL" and msg.startswith("parameters: ") and pid in last_by_pid:
            params = re.findall(r"\$(\d+) = (NULL|'(?:[^']|'')*')", msg[len("parameters: "):], re.S)
            last_by_pid[pid][1] = {int(k): v for k, v in params}
    return out


def inline(sql, params):
    for k in sorted(params, reverse=True):
        sql = re.sub(r"\$%d(?!\d)" % k, lambda _: params[k], sql)
    return " ".join(sql.split())


def main():
    cmd, path, offset = sys.argv[1], sys.argv[2], int(sys.argv[3])
    found = statements(path, offset)
    if cmd == "count":
        print(f"{len(found) / int(sys.argv[4]):.1f}")
    elif cmd == "pgbench":
        with open(sys.argv[4], "w") as f:
            for sql, params in found:
                f.write(inline(sql, params).rstrip(";") + ";\n")
        print(len(found))


if __name__ == "__main__":
    main()
