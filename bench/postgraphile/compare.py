"""Checks that Leadgraph's and PostGraphile's answers to the figure (a) query carry the same data.

    python3 compare.py LEADGRAPH.json POSTGRAPHILE.json

Both bodies must have no `errors` and `data.leads.nodes`; PostGraphile's connections (`tags`,
`campaigns`) are flattened to Leadgraph's lists. Prints the number of leads compared.
"""

import json
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        body = json.load(f)
    if body.get("errors"):
        sys.exit(f"{path}: errors: {body['errors']}")
    return body["data"]["leads"]["nodes"]


def ours(n):
    return {
        "id": n.get("id"),
        "owner": n["owner"],
        "tags": n["tags"],
        "notes": [x["body"] for x in n["notes"]["nodes"]],
        "campaigns": [c["campaign"] for c in n["campaigns"]],
    }


def theirs(n):
    return {
        "id": n.get("id"),
        "owner": n["owner"],
        "tags": [t["tag"] for t in n["tags"]["nodes"]],
        "notes": [x["body"] for x in n["notes"]["nodes"]],
        "campaigns": [c["campaign"] for c in n["campaigns"]["nodes"]],
    }


a = [ours(n) for n in load(sys.argv[1])]
b = [theirs(n) for n in load(sys.argv[2])]
if a != b:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            sys.exit(f"lead {i} differs:\n  leadgraph:    {x}\n  postgraphile: {y}")
    sys.exit(f"different lengths: {len(a)} vs {len(b)}")
if not a or not any(n["owner"] for n in a) or not any(n["notes"] for n in a) or not any(n["campaigns"] for n in a):
    sys.exit("the page is empty or lacks owners, notes or campaigns: nothing was compared")
print(len(a))
