"""Mounts on the OpenAI and Vertex AI backends against a tunedfs-server of the tests: the
mount options (and the key's environment) of each, and the server's count of requests to
one of its routes. The Gemini default needs none of this; the harness is conftest.py's."""
import os

OPENAI_KEY = "sk-tunedfs-test-key"
VERTEX = ["backend=vertex", "project=test-proj", "bucket=bkt", "token_command=echo test-token"]
VERTEX_PARENT = "projects/test-proj/locations/us-central1"


def openai(server):
    """Mount options for an endpoint-based mount on server, and the key's environment."""
    env = dict(os.environ, OPENAI_API_KEY=OPENAI_KEY)
    return ["backend=openai", "endpoint=" + server.url + "/v1"], env


def route_requests(server, route):
    """How many requests server took on route (its name in GET /debug/stats)."""
    st, stats, _ = server.request("GET", "/debug/stats")
    assert st == 200, stats
    return stats["routes"].get(route, {}).get("requests", 0)
