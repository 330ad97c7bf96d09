from edge.auth import Role


async def test_local_node_serves_health(local_node):
    async with local_node.client(None) as client:
        r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["node_id"] == "kit-test"


def test_node_process_serves_scene(node_process):
    with node_process.client(Role.VIEWER) as client:
        r = client.get("/api/scene")
    assert r.status_code == 200
    assert any(e["id"] == "node:kit-test" for e in r.json()["entities"])
