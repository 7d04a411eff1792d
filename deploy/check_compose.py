"""Validates docker-compose.yml without a Docker engine.

With the compose plugin, `docker compose config -q` is the check. Without it, this checks the
shape the deployment relies on: the services, their health checks and dependencies, the
load balancers' configs (the sticky one and the cookie-free round-robin one, each rendered from
its template and accepted by `haproxy -c`), and the image (multi-stage, non-root). Usage: python check_compose.py <repo root>
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

root = Path(sys.argv[1])
failures = []


def check(name, ok, why=""):
    print(f"ok {name}" if ok else f"FAIL {name}: {why}")
    if not ok:
        failures.append(name)


# Without the docker CLI (or without its compose plugin) the structural checks below are the check.
docker = shutil.which("docker")
plugin = docker and subprocess.run([docker, "compose", "version"], capture_output=True, text=True)
if plugin and plugin.returncode == 0:
    result = subprocess.run([docker, "compose", "config", "-q"], cwd=root, capture_output=True, text=True)
    check("docker compose config", result.returncode == 0, result.stderr)

compose = yaml.safe_load((root / "docker-compose.yml").read_text())
services = compose.get("services", {})
check("services", {"redis", "node1", "node2", "node3", "haproxy", "tests"} <= set(services), sorted(services))
for name in ("node1", "node2", "node3"):
    node = services.get(name, {})
    env = node.get("environment", {})
    check(f"{name} builds the image", node.get("build") == ".")
    check(f"{name} has its id", env.get("NODE_ID") == name, env)
    check(f"{name} joins redis", env.get("REDIS_URL") == "redis://redis:6379", env)
    check(f"{name} waits for redis", node.get("depends_on", {}).get("redis", {}).get("condition") == "service_healthy")
    check(f"{name} raises the open-files limit", node.get("ulimits", {}).get("nofile", {}).get("soft", 0) >= 100000)
    check(f"{name} has a readiness check", "/readyz" in " ".join(node.get("healthcheck", {}).get("test", [])))
haproxy_bin = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
check("haproxy is installed (scripts/install-deps.sh)", haproxy_bin is not None)


def check_balancer(service, template_flag, port, sticky):
    """The balancer `service`: its port, its config rendered from its template, haproxy -c."""
    haproxy = services.get(service, {})
    check(f"{service} serves :{port}", f"{port}:8080" in haproxy.get("ports", []))
    mount = next((v for v in haproxy.get("volumes", []) if "haproxy" in v and ".cfg" in v), "")
    cfg = root / mount.split(":")[0].removeprefix("./")
    check(f"{service} config mounted", cfg.is_file(), mount)
    if not cfg.is_file():
        return
    rendered = subprocess.run(
        [str(root / "scripts/render-haproxy.sh"), *template_flag, "*:8080", "node1=node1:3000", "node2=node2:3000", "node3=node3:3000"],
        capture_output=True,
        text=True,
        env={**os.environ, "HAPROXY_MAXCONN": "200000"},
    )
    check(f"{service} config is rendered from the template", rendered.stdout == cfg.read_text(), "re-run scripts/render-haproxy.sh")
    valid = haproxy_bin and subprocess.run([haproxy_bin, "-c", "-f", str(cfg)], capture_output=True, text=True)
    check(f"{service}: haproxy accepts its config", bool(valid) and valid.returncode == 0, valid and valid.stderr[-500:])
    text = cfg.read_text()
    if sticky:
        check(f"{service}: sticky sessions by cookie", "cookie SIO_NODE insert" in text)
    else:
        check(f"{service}: round robin without a cookie", "balance roundrobin" in text and not any(
            line.split()[:1] == ["cookie"] or " cookie " in line for line in text.splitlines() if not line.lstrip().startswith("#")
        ))
    check(f"{service}: health checks on /readyz", "option httpchk GET /readyz" in text)


check_balancer("haproxy", [], 8080, True)
check_balancer("haproxy-round-robin", ["--round-robin"], 8081, False)
rr = services.get("haproxy-round-robin", {})
check("the cookie-free balancer is behind a profile", "round-robin" in rr.get("profiles", []))
for name in ("node1", "node2", "node3"):
    env = services.get(name, {}).get("environment", {})
    check(f"{name} advertises its forwarding address", env.get("SIO_ADVERTISE") == f"{name}:3000", env)
tests = services.get("tests", {})
check("tests service behind a profile", tests.get("profiles") == ["tests"])
check("tests get the entry and redis urls", {"ENTRY_URL", "REDIS_URL"} <= set(tests.get("environment", {})))
cluster_nodes = [f"redis-c{i}" for i in range(1, 7)]
for name in cluster_nodes:
    node = services.get(name, {})
    check(f"{name} in the redis-cluster profile", node.get("profiles") == ["redis-cluster"])
    check(f"{name} is a cluster node", "--cluster-enabled" in node.get("command", []), node.get("command"))
init = services.get("redis-cluster-init", {})
check("the cluster is created with a replica per master", "--cluster-replicas 1" in " ".join(init.get("command", [])))
check(
    "the cluster is created once its nodes answer",
    all(init.get("depends_on", {}).get(n, {}).get("condition") == "service_healthy" for n in cluster_nodes),
)
for name in ("cnode1", "cnode2", "cnode3"):
    node = services.get(name, {})
    env = node.get("environment", {})
    check(f"{name} in the redis-cluster profile", node.get("profiles") == ["redis-cluster"])
    check(f"{name} runs on the Redis Cluster", env.get("SIO_REDIS_CLUSTER") == "true", env)
    check(f"{name} has several seeds", len(env.get("REDIS_URL", "").split(",")) >= 3, env)
    check(
        f"{name} waits for the cluster",
        node.get("depends_on", {}).get("redis-cluster-init", {}).get("condition") == "service_completed_successfully",
    )
    check(f"{name} has a readiness check", "/readyz" in " ".join(node.get("healthcheck", {}).get("test", [])))
tests_rr = services.get("tests-round-robin", {})
rr_env = tests_rr.get("environment", {})
check("cookie-free tests behind a profile", tests_rr.get("profiles") == ["tests-round-robin"])
check("cookie-free tests go through the round-robin balancer", rr_env.get("ENTRY_URL") == "http://haproxy-round-robin:8080", rr_env)
check("cookie-free tests run lb_round_robin", "lb_round_robin" in tests_rr.get("command", []))
dockerfile = (root / "Dockerfile").read_text()
check("multi-stage image", dockerfile.count("\nFROM ") + dockerfile.startswith("FROM ") >= 2)
check("non-root user", "\nUSER sio" in dockerfile)
sys.exit(1 if failures else 0)
