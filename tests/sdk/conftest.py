"""The SDK conformance tests: Google's and OpenAI's own npm packages, pinned in
package.json and package-lock.json here, installed with `npm ci` into node_modules (never
committed) and run by node against the built tunedfs-server."""
import os
import shutil
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
collect_ignore_glob = ["node_modules/*"]


def installed():
    """True when node_modules holds exactly what package-lock.json pins."""
    mine = os.path.join(HERE, "node_modules", ".package-lock.json")
    if not os.path.exists(mine):
        return False
    import json
    want = json.load(open(os.path.join(HERE, "package-lock.json")))["packages"]
    have = json.load(open(mine))["packages"]
    return all(have.get(k, {}).get("version") == v.get("version")
               for k, v in want.items() if k)


@pytest.fixture(scope="session")
def node():
    """The node binary with the pinned packages installed (npm ci once per session)."""
    exe = shutil.which("node")
    if not exe or not shutil.which("npm"):
        pytest.skip("node and npm are not installed: the SDK conformance tests need them")
    if not installed():
        p = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--prefer-offline"],
                           cwd=HERE, capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, "npm ci failed:\n" + p.stdout + p.stderr
    return exe


def run_node(node, script, *args, timeout=600):
    p = subprocess.run([node, os.path.join(HERE, script), *args], cwd=HERE,
                       capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"{script} failed:\n{p.stdout}\n{p.stderr}"
    return p.stdout.strip().splitlines()[-1]
