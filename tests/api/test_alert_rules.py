"""The README's Prometheus rules and Alertmanager configuration, checked by the tools that read them.

The rules block is taken from README.md as a reader would copy it: ``promtool check rules`` reads
it, and ``promtool test rules`` evaluates it over series shaped like the API's gauges (two
instances reporting the same dataset, a second dataset that stays under every threshold, values
exactly at a threshold), so each rule fires when it should, once per dataset, and stays silent
otherwise. promtool is Debian's ``prometheus`` package: without it these tests are skipped, unless
``SIFT_REQUIRE_PROMETHEUS=1`` (CI) makes its absence a failure. The Alertmanager block is checked
with ``amtool`` (Debian's ``prometheus-alertmanager``) where it is installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from core.api.metrics import StoreGauges
from core.config import REPO_ROOT

RULES = {
    "SiftDriftShare",
    "SiftKeyFeatureDrift",
    "SiftEstimatedAccuracy",
    "SiftRealisedAccuracy",
    "SiftFlaggedShare",
    "SiftRejectedShare",
    "SiftOpenAlerts",
    "SiftMonitoringBehind",
    "SiftAlertDeliveryFailed",
    "SiftAlertDeliveryStuck",
    "SiftMetricsDown",
}
THRESHOLDS = {"drift_share": 0.5, "accuracy_drop": 0.05, "min_labels": 30, "flagged_share": 0.1, "rejected_share": 0.05}
TOOL_SECONDS = 60

pytestmark = pytest.mark.slow  # runs promtool


def _readme_block(marker: str) -> str:
    """The README's ```yaml block holding ``marker``."""
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", (REPO_ROOT / "README.md").read_text(), re.S) if marker in b]
    assert len(blocks) == 1, f"README.md should have one yaml block with {marker!r}, not {len(blocks)}"
    return blocks[0]


def _tool(name: str, *, required: bool) -> str:
    if found := shutil.which(name):
        return found
    package = "prometheus" if name == "promtool" else "prometheus-alertmanager"
    message = f"{name} is not on PATH: install Debian's {package} (apt-get install {package})"
    if required and os.environ.get("SIFT_REQUIRE_PROMETHEUS") == "1":
        pytest.fail(f"SIFT_REQUIRE_PROMETHEUS=1 but {message}")
    pytest.skip(message)


@pytest.fixture
def promtool() -> str:
    return _tool("promtool", required=True)


def _run(*command: str, cwd: Path) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=TOOL_SECONDS, check=False)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "sift.yml"
    path.write_text(_readme_block("groups:"))
    return path


def test_the_rules_are_valid_and_read_only_gauges_the_api_exposes(promtool: str, rules_file: Path) -> None:
    _run(promtool, "check", "rules", str(rules_file), cwd=rules_file.parent)
    rules = yaml.safe_load(rules_file.read_text())["groups"][0]["rules"]
    assert {r["alert"] for r in rules} == RULES
    exposed = {f"sift_{name}" for name in (*StoreGauges.GAUGES, *StoreGauges.LABELLED)}
    read = {name for r in rules for name in re.findall(r"\bsift_[a-z_]+", r["expr"])}
    assert read <= exposed, f"the rules read gauges /metrics does not have: {sorted(read - exposed)}"
    checks = set(re.findall(r'check="([a-z_]+)"', "".join(r["expr"] for r in rules)))
    assert checks == set(THRESHOLDS)


# --- series like the gauges, and the alerts they must raise ----------------------------------------


def _series(name: str, values: str, **labels: str) -> dict[str, str]:
    inside = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{inside}}}", "values": values}


def _steps(before: float, after: float, *, at: int, until: int) -> str:
    """``before`` for the minutes before ``at``, ``after`` from ``at`` to ``until``."""
    return f"{before}x{at - 1} {after}x{until - at}"


def _alert(summary: str, severity: str = "warning", **labels: str) -> dict:
    return {"exp_labels": {"severity": severity, **labels}, "exp_annotations": {"summary": summary}}


def _window_case() -> dict:
    """The window checks: rice moves at minute 10, to exactly the threshold where a check is ``>=``
    (its low realised accuracy has too few labels before); grains stays just within every threshold."""
    series = []
    figures = {  # gauge: (rice before, rice after, grains)
        "sift_holdout_accuracy": (0.93, 0.93, 0.9),
        "sift_drift_share": (0.3, 0.5, 0.49),
        "sift_estimated_accuracy": (0.9, 0.85, 0.86),
        "sift_realised_accuracy": (0.8, 0.8, 0.87),
        "sift_labelled_predictions": (29, 30, 40),
        "sift_flagged_share": (0.09, 0.1, 0.099),
        "sift_rejected_share": (0.04, 0.05, 0.049),
    }
    for instance in ("a:8000", "b:8000"):  # two API instances report the same store
        rice = {"dataset": "rice", "instance": instance}
        for name, (before, after, _) in figures.items():
            series.append(_series(name, _steps(before, after, at=10, until=20), **rice))
        series.append(_series("sift_feature_drift", _steps(0, 1, at=10, until=20), feature="Area", **rice))
        series.append(_series("sift_feature_drift", "0x20", feature="Perimeter", **rice))
        for check, value in THRESHOLDS.items():
            series.append(_series("sift_alert_threshold", f"{value}x20", check=check, **rice))
    grains = {"dataset": "grains", "instance": "a:8000"}
    series += [_series(name, f"{value}x20", **grains) for name, (_, _, value) in figures.items()]
    series.append(_series("sift_feature_drift", "0x20", feature="Area", **grains))
    series += [_series("sift_alert_threshold", f"{v}x20", check=c, **grains) for c, v in THRESHOLDS.items()]
    fired = {
        "SiftDriftShare": [_alert("rice: 50% of features drift in the latest window", dataset="rice")],
        "SiftKeyFeatureDrift": [
            _alert("rice: key feature Area drifts in the latest window", dataset="rice", feature="Area")
        ],
        "SiftEstimatedAccuracy": [
            _alert(
                "rice: estimated accuracy 85%, below the holdout's less the allowed drop", "critical", dataset="rice"
            )
        ],
        "SiftRealisedAccuracy": [
            _alert(
                "rice: accuracy on labelled predictions 80%, below the holdout's less the allowed drop",
                "critical",
                dataset="rice",
            )
        ],
        "SiftFlaggedShare": [
            _alert("rice: 10% of the latest window's rows flagged by the input contract", dataset="rice")
        ],
        "SiftRejectedShare": [_alert("rice: 5% of the latest window's input rows rejected", dataset="rice")],
    }
    tests = [{"eval_time": "5m", "alertname": name, "exp_alerts": []} for name in sorted(RULES)]
    tests += [{"eval_time": "15m", "alertname": name, "exp_alerts": fired.get(name, [])} for name in sorted(RULES)]
    return {"name": "window checks", "interval": "1m", "input_series": series, "alert_rule_test": tests}


def _service_case() -> dict:
    """Open alerts, monitoring that stopped, deliveries that fail or wait, an instance that is down."""
    rice, grains, never = ({"dataset": d, "instance": "a:8000"} for d in ("rice", "grains", "never"))
    series = [
        _series("sift_open_alerts", _steps(0, 3, at=10, until=120), **rice),
        _series("sift_open_alerts", "0x120", **grains),
        # rice: a prediction at minute 20, nothing measured since minute 10; grains: measured after it
        _series("sift_last_prediction_timestamp_seconds", _steps(300, 1200, at=20, until=120), **rice),
        _series("sift_last_measured_timestamp_seconds", "600x120", **rice),
        _series("sift_last_prediction_timestamp_seconds", _steps(300, 1200, at=20, until=120), **grains),
        _series("sift_last_measured_timestamp_seconds", _steps(600, 1800, at=30, until=120), **grains),
        _series("sift_last_prediction_timestamp_seconds", "300x120", **never),
        _series("sift_last_measured_timestamp_seconds", "0x120", **never),  # no window ever measured
        # rice: a delivery fails at minute 30, one waits from minute 10 to 60; grains: old failures only
        _series("sift_alert_deliveries", _steps(0, 1, at=30, until=120), status="failed", **rice),
        _series("sift_alert_deliveries", "0x9 1x50 0x60", status="pending", **rice),
        _series("sift_alert_deliveries", "2x120", status="failed", **grains),
        _series("sift_alert_deliveries", "0x120", status="pending", **grains),
        _series("up", _steps(1, 0, at=10, until=120), job="sift", instance="a:8000"),
        _series("up", "1x120", job="sift", instance="b:8000"),
    ]
    open_alerts = _alert("rice: 3 Sift alerts not acknowledged (Monitor page)", dataset="rice")
    behind = "{}: predictions not measured for an hour: is python -m core monitor running?"
    failed = _alert("rice: Sift gave up delivering an alert (delivery log on the Monitor page)", dataset="rice")
    stuck = _alert("rice: 1 Sift alert deliveries waiting for 30 minutes", dataset="rice")
    down = _alert("Prometheus cannot scrape Sift's API at a:8000", "critical", job="sift", instance="a:8000")
    expected = {
        "SiftOpenAlerts": {"65m": [], "75m": [open_alerts]},  # open for an hour from minute 10
        "SiftMonitoringBehind": {  # an hour since the last measurement, for 15 minutes
            "60m": [],
            "80m": [_alert(behind.format("never"), dataset="never")],
            "90m": [_alert(behind.format("never"), dataset="never"), _alert(behind.format("rice"), dataset="rice")],
        },
        "SiftAlertDeliveryFailed": {"20m": [], "40m": [failed], "100m": []},  # within the hour after it
        "SiftAlertDeliveryStuck": {"30m": [], "45m": [stuck], "75m": []},
        "SiftMetricsDown": {"12m": [], "20m": [down]},
    }
    tests = [
        {"eval_time": at, "alertname": name, "exp_alerts": alerts}
        for name, moments in expected.items()
        for at, alerts in moments.items()
    ]
    quiet = sorted(RULES - set(expected))  # no window gauges here: those rules have nothing to read
    tests += [{"eval_time": "90m", "alertname": name, "exp_alerts": []} for name in quiet]
    return {"name": "service checks", "interval": "1m", "input_series": series, "alert_rule_test": tests}


def test_the_rules_fire_when_they_should_and_stay_silent_otherwise(promtool: str, rules_file: Path) -> None:
    tests = rules_file.parent / "sift-test.yml"
    cases = {"rule_files": [rules_file.name], "evaluation_interval": "1m", "tests": [_window_case(), _service_case()]}
    tests.write_text(yaml.safe_dump(cases, sort_keys=False))
    out = _run(promtool, "test", "rules", tests.name, cwd=tests.parent)
    assert "SUCCESS" in out, out


def test_the_alertmanager_configuration_routes_the_alerts(tmp_path: Path) -> None:
    amtool = _tool("amtool", required=True)
    config = tmp_path / "alertmanager.yml"
    config.write_text(_readme_block("route:"))
    _run(amtool, "check-config", str(config), cwd=tmp_path)
    for labels, receivers in (
        (["alertname=SiftEstimatedAccuracy", "severity=critical", "dataset=rice"], "on-call,ml-team"),
        (["alertname=SiftDriftShare", "severity=warning", "dataset=rice"], "ml-team"),
    ):
        routed = _run(amtool, "config", "routes", "test", f"--config.file={config}", *labels, cwd=tmp_path)
        assert routed.strip() == receivers, (labels, routed)
