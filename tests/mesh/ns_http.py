"""HTTP to a node from inside its network namespace: ``ip netns exec NS python ns_http.py COMMAND URL TOKEN ...``.

The test process stays in the root namespace; a node in a namespace serves its API on that
namespace's loopback, which only a process inside it can reach. Commands (JSON on stdout):

- ``alerts URL TOKEN``: the ids of every alert event the node holds, sorted;
- ``raise URL TOKEN N TAG``: raise N alerts (each answered 201: committed), their ids;
- ``has URL TOKEN ENTITY_ID``: whether the node has the entity;
- ``health URL TOKEN``: the node's /healthz (components and scene counters).
"""

from __future__ import annotations

import json
import sys
import time

import httpx


def main() -> None:
    command, url, token, *rest = sys.argv[1:]
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=5.0) as client:
        if command == "alerts":
            r = client.get("/api/events", params={"since": time.time() - 3600, "limit": 1000, "kind": "alert"})
            r.raise_for_status()
            out: object = sorted(e["id"] for e in r.json() if e["kind"] == "alert")
        elif command == "raise":
            out = []
            for i in range(int(rest[0])):
                r = client.post("/api/alerts", json={"title": f"{rest[1]} {i}", "severity": "emergency"})
                if r.status_code != 201:
                    raise SystemExit(f"POST /api/alerts: {r.status_code} {r.text}")
                out.append(r.json()["alert"]["id"])
        elif command == "health":
            out = client.get("/healthz").json()
        elif command == "has":
            out = client.get(f"/api/entities/{rest[0]}").status_code == 200
        else:
            raise SystemExit(f"unknown command {command}")
    sys.stdout.write(json.dumps(out))


if __name__ == "__main__":
    main()
