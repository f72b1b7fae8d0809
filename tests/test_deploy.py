"""deploy/ (Dockerfile, compose, Kubernetes, HAProxy) agrees with the code, as far as this machine can check
without Docker: files parse, ports, paths, env names and commands match, HAProxy accepts its configs, and
``python -m mnistviz serve`` runs a class on loopback and stops it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mnistviz import serve
from mnistviz.cli import build_parser

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
WORKER_CMD = ["python", "-m", "mnistviz", "worker"]
WEB_CMD = ["streamlit", "run", "app.py", "--server.port", str(serve.WEB_PORT), "--server.address", "0.0.0.0"]
STORE = "/store"


def k8s_docs() -> dict[tuple[str, str], dict]:
    docs = {}
    for f in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(f.read_text()):
            if doc and doc.get("kind") != "Kustomization":
                docs[(doc["kind"], doc["metadata"]["name"])] = doc
    return docs


def container(deployment: dict) -> dict:
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    return c


def env_of(c: dict) -> dict:
    return {e["name"]: e["value"] for e in c.get("env", [])}


def code_text() -> str:
    return "\n".join(p.read_text() for p in [*(ROOT / "mnistviz").glob("*.py"), ROOT / "app.py",
                                              *(ROOT / "pages").glob("*.py")])


def test_env_names_in_deploy_are_ones_the_code_reads():
    deploy_text = "\n".join(p.read_text() for p in DEPLOY.rglob("*") if p.is_file())
    names = set(re.findall(r"MNISTVIZ_[A-Z_]+", deploy_text))
    assert {"MNISTVIZ_REDIS_URL", "MNISTVIZ_CACHE", "MNISTVIZ_DATA"} <= names
    code = code_text()
    assert all(f'"{n}"' in code for n in names), [n for n in names if f'"{n}"' not in code]


def test_worker_command_is_a_real_subcommand():
    args = build_parser().parse_args(WORKER_CMD[3:])
    assert args.fn.__name__ == "cmd_worker" and args.redis_url == os.environ.get("MNISTVIZ_REDIS_URL", "")
    assert serve.worker_command()[1:] == WORKER_CMD[1:]
    assert serve.streamlit_command(1234)[1:5] == ["-m", "streamlit", "run", "app.py"] and (ROOT / "app.py").exists()


def test_dockerfile_runs_the_app_as_non_root_with_its_data_inside():
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    user = re.findall(r"^USER (\S+)$", text, re.M)
    assert user and user[-1] not in ("root", "0")
    health = re.search(r"^HEALTHCHECK .*\n.*$", text, re.M).group(0)
    assert f"127.0.0.1:{serve.WEB_PORT}{serve.HEALTH_PATH}" in health
    assert "MNISTVIZ_DATA=sample" in text and f"MNISTVIZ_CACHE={STORE}" in text
    cmd = re.search(r"^CMD (.*)$", text, re.M).group(1)
    assert eval(cmd) == WEB_CMD  # noqa: S307 - a JSON list literal from our own file
    for src in ("app.py", "pages/", "mnistviz/", ".streamlit/", "requirements.txt", "deploy/entrypoint.sh"):
        assert re.search(rf"^COPY {re.escape(src)} ", text, re.M), src
        assert (ROOT / src).exists()
    # the sample and the default model are inside mnistviz/ (copied), and nothing excludes them
    from mnistviz import data, pretrained

    for asset in (data.SAMPLE_PATH, pretrained.DEFAULT_MODEL_PATH):
        assert asset.exists() and asset.is_relative_to(ROOT / "mnistviz")
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert not any(i.startswith(("mnistviz", "pages", "app.py")) for i in ignored)


def test_entrypoint_sets_thread_counts_from_the_cpu_limit():
    out = subprocess.run(["sh", str(DEPLOY / "entrypoint.sh"), "env"], capture_output=True, text=True, check=True,
                         env={"PATH": os.environ["PATH"]}).stdout
    env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    for name in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        assert int(env[name]) >= 1
    assert int(env["OMP_NUM_THREADS"]) <= (os.cpu_count() or 1)


def test_compose_wires_haproxy_web_workers_redis_and_the_store():
    c = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    s = c["services"]
    assert set(s) == {"haproxy", "web", "worker", "redis"}
    assert s["web"]["command"] == WEB_CMD and s["worker"]["command"] == WORKER_CMD
    assert s["haproxy"]["ports"] == [f"{serve.WEB_PORT}:{serve.WEB_PORT}"]
    for name in ("web", "worker"):
        env = s[name]["environment"]
        assert env["MNISTVIZ_REDIS_URL"] == "redis://redis:6379/0" and env["MNISTVIZ_CACHE"] == STORE
        assert f"store:{STORE}" in s[name]["volumes"] and "store" in c["volumes"]
    assert s["worker"]["deploy"]["replicas"] >= 1 and s["web"]["deploy"]["replicas"] >= 2
    # HAProxy reads the generated config, which is the one serve uses with compose's server lines
    mount = s["haproxy"]["volumes"][0].split(":")
    assert (DEPLOY / mount[0]).resolve() == DEPLOY / "haproxy.cfg"
    assert (DEPLOY / "haproxy.cfg").read_text() == serve.compose_config()
    assert f"server-template web 10 web:{serve.WEB_PORT}" in serve.compose_config()


def test_haproxy_accepts_both_configs(tmp_path):
    haproxy = serve.find_program("haproxy")
    if haproxy is None:
        pytest.skip("haproxy is not installed")
    local = tmp_path / "local.cfg"
    local.write_text(serve.haproxy_config(serve.local_servers([18001, 18002]), 18500, str(tmp_path / "s.sock")))
    for cfg in (local, DEPLOY / "haproxy.cfg"):
        p = subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True)
        assert p.returncode == 0 and "Configuration file is valid" in p.stdout + p.stderr, p.stderr
        assert "WARNING" not in p.stdout + p.stderr, p.stderr
    text = local.read_text()
    # cookie stickiness (not source address), health checks on Streamlit's page, websocket-friendly timeouts
    assert f"cookie {serve.COOKIE} insert indirect nocache" in text and "balance source" not in text
    assert f"option httpchk GET {serve.HEALTH_PATH}" in text and "timeout tunnel" in text
    assert "server web1 127.0.0.1:18001 check cookie web1" in text


def test_kubernetes_manifests_agree_with_the_code():
    docs = k8s_docs()
    web, worker = docs[("Deployment", "mnistviz-web")], docs[("Deployment", "mnistviz-worker")]
    wc, kc = container(web), container(worker)
    assert wc["args"] == WEB_CMD and kc["args"] == WORKER_CMD
    assert [p["containerPort"] for p in wc["ports"]] == [serve.WEB_PORT]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert wc[probe]["httpGet"]["path"] == serve.HEALTH_PATH and wc[probe]["httpGet"]["port"] == "http"
    # Redis: the URL both use names the Service and its port
    redis_svc = docs[("Service", "mnistviz-redis")]
    url = f"redis://mnistviz-redis:{redis_svc['spec']['ports'][0]['port']}/0"
    assert env_of(wc)["MNISTVIZ_REDIS_URL"] == env_of(kc)["MNISTVIZ_REDIS_URL"] == url
    assert docs[("Deployment", "mnistviz-redis")]["spec"]["template"]["metadata"]["labels"].items() >= \
        redis_svc["spec"]["selector"].items()
    # the store: one ReadWriteMany claim, mounted where MNISTVIZ_CACHE points, in web pods and workers
    pvc = docs[("PersistentVolumeClaim", "mnistviz-store")]
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    for dep, c in ((web, wc), (worker, kc)):
        assert env_of(c)["MNISTVIZ_CACHE"] == STORE
        (vol,) = dep["spec"]["template"]["spec"]["volumes"]
        assert vol["persistentVolumeClaim"]["claimName"] == "mnistviz-store"
        assert {"name": vol["name"], "mountPath": STORE} in c["volumeMounts"]
        assert dep["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    # Service → web pods; Ingress → Service, with cookie affinity
    svc = docs[("Service", "mnistviz-web")]
    assert web["spec"]["template"]["metadata"]["labels"].items() >= svc["spec"]["selector"].items()
    assert svc["spec"]["ports"][0]["targetPort"] == "http"
    ing = docs[("Ingress", "mnistviz")]
    backend = ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "mnistviz-web", "port": {"number": svc["spec"]["ports"][0]["port"]}}
    ann = ing["metadata"]["annotations"]
    assert ann["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert int(ann["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    # autoscalers for both, pointing at real Deployments
    targets = {d["spec"]["scaleTargetRef"]["name"] for (kind, _), d in docs.items()
               if kind == "HorizontalPodAutoscaler"}
    assert targets == {"mnistviz-web", "mnistviz-worker"}
    kust = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    assert sorted(kust["resources"]) == sorted(p.name for p in (DEPLOY / "k8s").glob("*.yaml")
                                               if p.name != "kustomization.yaml")


def test_serve_runs_a_class_on_loopback_and_stops_it(tmp_path):
    """``python -m mnistviz serve --web 1 --workers 1``: HAProxy answers with its cookie, the worker trains a
    queued job into the shared store, and Ctrl-C stops every process it started."""
    if serve.find_program("haproxy") is None or serve.find_program("redis-server") is None:
        pytest.skip("haproxy or redis-server is not installed")
    from mnistviz.jobs import QueueUnavailable
    from mnistviz.jobs_rq import RQQueue
    from mnistviz.store import ModelStore
    from test_jobs_rq import request

    port, store = serve.free_port(), tmp_path / "store"
    proc = subprocess.Popen([sys.executable, "-m", "mnistviz", "serve", "--web", "1", "--workers", "1",
                             "--port", str(port), "--cache", str(store)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if "open http://" in line or "error" in line:
                break
        assert f"open http://localhost:{port}" in lines[-1], "".join(lines)
        redis_url = re.search(r"queue (redis://\S+),", "".join(lines)).group(1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as resp:
            assert f"{serve.COOKIE}=web1" in resp.headers["Set-Cookie"]
        q = RQQueue.from_env(redis_url, store=ModelStore(store))
        r = request(seed=21)
        q.submit(r, "teacher")
        assert q.wait(r.key, timeout=240).state == "finished"
        assert (store / f"{r.key}.keras").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "mnistviz: stopped" in rest
    time.sleep(0.5)
    assert not serve.answers(f"http://127.0.0.1:{port}/_stcore/health")  # HAProxy is gone
    with pytest.raises(QueueUnavailable):  # and so is redis-server
        RQQueue.from_env(redis_url)
