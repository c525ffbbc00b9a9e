"""deploy/k8s/: valid Kubernetes objects, wired to each other and to metrics the service really exports.

Validation uses kubernetes-validate's bundled OpenAPI schemas in strict mode (unknown fields
are errors), at the oldest and newest Kubernetes versions the manifests are meant for.
"""

import ast
import copy
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
#: The oldest Kubernetes the manifests are meant for (unhealthyPodEvictionPolicy is GA in 1.31,
#: accepted since 1.27) and the newest whose schemas kubernetes-validate 1.37.0 ships.
K8S_VERSIONS = ("1.30.0", "1.37.0")
MANIFESTS = sorted([*K8S.glob("*.yaml"), *K8S.glob("cpu/*.yaml")])


def documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def only(kind: str, path: Path) -> dict:
    (doc,) = [d for d in documents(path) if d["kind"] == kind]
    return doc


def service_metrics() -> dict[str, str]:
    """The prometheus_client metrics serving/core/metrics.py defines, as name -> type (Gauge, Counter, Histogram).

    Read from the source rather than imported, as the manifests are read.
    """
    tree = ast.parse((ROOT / "serving" / "core" / "metrics.py").read_text())
    found = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("Gauge", "Counter", "Histogram", "Summary")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found[node.args[0].value] = node.func.id
    return found


def test_manifests_are_all_there():
    assert {p.name for p in MANIFESTS} >= {
        "deployment.yaml",
        "service.yaml",
        "hpa.yaml",
        "hpa-cpu.yaml",
        "pdb.yaml",
        "prometheus-adapter-rules.yaml",
    }


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(K8S)))
def test_manifest_validates_against_the_kubernetes_schema(path, version):
    docs = documents(path)
    assert docs, f"{path.name} holds no object"
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize(
    ("breakage", "where"),
    [
        (lambda d: d["spec"].__setitem__("replicas", "two"), "replicas"),
        (lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("startupprobe", {}), "startupprobe"),
    ],
)
def test_the_validator_rejects_a_broken_deployment(breakage, where):
    """The validation above can fail: a wrong type and a misspelt field are both caught."""
    broken = copy.deepcopy(only("Deployment", K8S / "deployment.yaml"))
    breakage(broken)
    with pytest.raises(kubernetes_validate.ValidationError, match=where):
        kubernetes_validate.validate(broken, K8S_VERSIONS[-1], strict=True)


def test_labels_selectors_and_ports_line_up():
    deployment = only("Deployment", K8S / "deployment.yaml")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    service = only("Service", K8S / "service.yaml")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    pdb = only("PodDisruptionBudget", K8S / "pdb.yaml")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()

    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    (port,) = container["ports"]
    assert port["containerPort"] == 3000
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["BENTOML_PORT"] == "3000"
    assert service["spec"]["ports"][0]["targetPort"] == port["name"]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == "3000" and annotations["prometheus.io/path"] == "/metrics"


def test_deployment_asks_for_a_gpu_probes_the_service_and_drains_gracefully():
    deployment = only("Deployment", K8S / "deployment.yaml")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert container["resources"]["requests"]["nvidia.com/gpu"] == 1
    assert container["image"] == "registry.example.com/kokoro-tts:0.2.0-gpu"  # as deploy/image/build.sh tags it
    probes = {name: container[name]["httpGet"] for name in ("startupProbe", "readinessProbe", "livenessProbe")}
    assert probes["startupProbe"]["path"] == "/readyz" and probes["readinessProbe"]["path"] == "/tts/health"
    assert probes["livenessProbe"]["path"] == "/livez"
    assert all(p["port"] == container["ports"][0]["name"] for p in probes.values())
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    # The grace period covers the preStop sleep plus the service's 600 s request timeout.
    traffic_timeout = int(re.search(r'name="kokoro_tts", traffic=\{"timeout": (\d+)\}', service_source()).group(1))
    assert pod["terminationGracePeriodSeconds"] >= int(pre_stop[1]) + traffic_timeout


def test_the_cpu_deployment_is_the_gpu_one_on_the_cpu_image_without_a_gpu():
    """Nothing but the image, the GPU and the memory differ, so that the two cannot drift apart."""
    gpu = only("Deployment", K8S / "deployment.yaml")
    cpu = only("Deployment", K8S / "cpu" / "deployment.yaml")
    gpu_pod, cpu_pod = gpu["spec"]["template"]["spec"], cpu["spec"]["template"]["spec"]
    (gpu_container,), (cpu_container,) = gpu_pod["containers"], cpu_pod["containers"]
    assert cpu_container.pop("image") == gpu_container.pop("image").replace(":0.2.0-gpu", ":0.2.0-cpu")
    gpu_env = {e["name"]: e["value"] for e in gpu_container.pop("env")}
    assert {e["name"]: e["value"] for e in cpu_container.pop("env")} == {
        name: value for name, value in gpu_env.items() if name not in ("KOKORO_DEVICE", "KOKORO_WEIGHTS")
    }
    gpu_pod.pop("tolerations")  # for tainted GPU node pools
    gpu_container.pop("resources"), cpu_container.pop("resources")  # sized apart (below)
    assert cpu == gpu


def test_the_cpu_deployment_is_sized_from_the_measured_soak():
    """Requested: the 1,350-1,738 MB the server held under load; the limit above its 1,738 MB peak with room."""
    (container,) = only("Deployment", K8S / "cpu" / "deployment.yaml")["spec"]["template"]["spec"]["containers"]
    requests, limits = container["resources"]["requests"], container["resources"]["limits"]
    requested, limit = (int(memory.removesuffix("Mi")) * 2**20 for memory in (requests["memory"], limits["memory"]))
    assert 1_350e6 <= requested <= 1_738e6 * 1.1
    assert limit >= 1_738e6 * 1.3
    assert not [key for key in (*requests, *limits) if key.startswith("nvidia.com")]


def service_source() -> str:
    return (ROOT / "service.py").read_text()


@pytest.mark.parametrize("hpa_file", ["hpa.yaml", "hpa-cpu.yaml"])
def test_hpa_scales_the_deployment(hpa_file):
    hpa = only("HorizontalPodAutoscaler", K8S / hpa_file)
    deployment = only("Deployment", K8S / "deployment.yaml")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == ("apps/v1", "Deployment", "kokoro-tts")
    assert target["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] >= 2, "the PodDisruptionBudget needs two pods to let a node drain"


def test_cpu_fallback_replaces_the_custom_metric_hpa_rather_than_joining_it():
    """Two HPAs on one Deployment fight; the fallback shares the name so applying it replaces the other."""
    names = {only("HorizontalPodAutoscaler", K8S / name)["metadata"]["name"] for name in ("hpa.yaml", "hpa-cpu.yaml")}
    assert names == {"kokoro-tts"}
    (metric,) = only("HorizontalPodAutoscaler", K8S / "hpa-cpu.yaml")["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu" and metric["resource"]["target"]["type"] == "Utilization"
    deployment = only("Deployment", K8S / "deployment.yaml")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"]


def hpa_metric_name() -> str:
    (metric,) = only("HorizontalPodAutoscaler", K8S / "hpa.yaml")["spec"]["metrics"]
    assert metric["type"] == "Pods"
    return metric["pods"]["metric"]["name"]


def test_hpa_metric_is_a_gauge_the_service_defines():
    metrics = service_metrics()
    assert "tts_requests_total" in metrics, "the source parser found none of the service's metrics"
    assert metrics.get(hpa_metric_name()) == "Gauge", f"{hpa_metric_name()} is not among {sorted(metrics)}"


def test_prometheus_adapter_serves_that_metric_per_pod():
    config = yaml.safe_load(only("ConfigMap", K8S / "prometheus-adapter-rules.yaml")["data"]["config.yaml"])
    (rule,) = [r for r in config["rules"] if hpa_metric_name() in r["seriesQuery"]]
    series = re.match(r"'?(\w+)\{", rule["seriesQuery"]).group(1)
    assert series in service_metrics()
    exposed = re.sub(rule["name"]["matches"], rule["name"]["as"] or r"\g<0>", series)
    assert exposed == hpa_metric_name()
    assert rule["resources"]["overrides"]["pod"]["resource"] == "pod"
    assert rule["resources"]["overrides"]["namespace"]["resource"] == "namespace"
    assert "sum(" in rule["metricsQuery"] and "<<.GroupBy>>" in rule["metricsQuery"]
