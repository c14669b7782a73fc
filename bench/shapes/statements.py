#!/usr/bin/env python3
"""Statements a server ran, read from a PostgreSQL log written with log_statement=all
(bench/shapes.sh turns it on for one process's connections through the URL's `options`).

    statements.py count LOG OFFSET REQUESTS     → statements per request (one decimal)
    statements.py pgbench LOG OFFSET OUT        → OUT: a pgbench script of the logged statements,
                                                  with their bound parameters inlined

Only the log after byte OFFSET is read. Background work of a Leadgraph process (job runners,
the outbox relay, the cached session check) is left out, as in tests/api/helpers.rs'
`request_statements`, and so is a transaction (BEGIN … COMMIT) with only background work in
it: the outbox relay's lock transaction (BEGIN, pg_advisory_xact_lock, COMMIT) of the idle
logged process used to land in either side's window and count as 0.6 per request. Transaction
control around request work is counted: it is a round trip too.
"""
import re
import sys

RECORD = re.compile(r"^\d{4}-\d\d-\d\d [\d:.]+ \w+ \[(\d+)\] (\w+):  (.*)$")
STATEMENT = re.compile(r"^(?:statement|execute [^:]*): (.*)$", re.S)
BACKGROUND = ("outbox_events", '"jobs"', "FROM jobs", "UPDATE jobs", "INTO jobs", "LISTEN ",
              "pg_notify", '"refresh_tokens"."user_id", "refresh_tokens"."org_id"',
              'SELECT "memberships"."role" FROM "memberships"', "pg_advisory_xact_lock")
TX_START = ("BEGIN", "START TRANSACTION")
TX_END = ("COMMIT", "ROLLBACK")


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
    out, last_by_pid, open_tx, dropped = [], {}, {}, set()
    for pid, level, msg in records(path, offset):
        if level == "LOG":
            m = STATEMENT.match(msg)
            sql = m.group(1) if m else None
            if sql is None or any(b in sql for b in BACKGROUND):
                last_by_pid.pop(pid, None)
                continue
            word = sql.strip().rstrip(";").upper()
            out.append([sql, {}])
            last_by_pid[pid] = out[-1]
            if word in TX_START:
                open_tx[pid] = [len(out) - 1]
            elif pid in open_tx:
                open_tx[pid].append(len(out) - 1)
                if word in TX_END:
                    tx = open_tx.pop(pid)
                    if len(tx) == 2:  # only background work between BEGIN and COMMIT
                        dropped.update(tx)
        elif level == "DETAIL" and msg.startswith("parameters: ") and pid in last_by_pid:
            params = re.findall(r"\$(\d+) = (NULL|'(?:[^']|'')*')", msg[len("parameters: "):], re.S)
            last_by_pid[pid][1] = {int(k): v for k, v in params}
    return [s for i, s in enumerate(out) if i not in dropped]


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
