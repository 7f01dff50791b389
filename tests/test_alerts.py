"""Alerts: the run-status sensor, evaluated on real runs recorded in a real Dagster instance, reports
a withheld publication (which checks blocked, a link to the report) and a failed run through a real
webhook receiver and a real SMTP receiver on 127.0.0.1."""

from __future__ import annotations

import email
import json
import socket
import threading
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest

from pipelines.defs.alerts import AlertDeliveryFailed, ntm_alerts
from pipelines.lib.resources import AlertSettings
from pipelines.samples import claims_bytes
from tests.conftest import copy_sample


@pytest.fixture
def webhook():
    """A webhook receiver on 127.0.0.1: every POSTed body, parsed; `status` is what it answers."""
    received: list[dict] = []
    state = {"status": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"content_type": self.headers["Content-Type"], "json": json.loads(body)})
            self.send_response(state["status"])
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received, state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def smtp():
    """An SMTP receiver on 127.0.0.1 (aiosmtpd): every message it accepted."""
    from aiosmtpd.controller import Controller

    messages: list[email.message.EmailMessage] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
            return "250 OK"

    with socket.socket() as probe:  # a free port: the controller checks it is up by connecting to it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, messages
    finally:
        controller.stop()


@pytest.fixture
def instance(tmp_path, monkeypatch):
    """A persistent Dagster instance (DAGSTER_HOME), which `ntm run` records its runs in."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    with dg.DagsterInstance.get() as instance:
        yield instance


def _evaluate_sensor_on_last_run(instance: dg.DagsterInstance):
    [run] = instance.get_runs(limit=1)
    assert run.status == dg.DagsterRunStatus.FAILURE
    [failure] = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    context = dg.build_run_status_sensor_context(
        sensor_name="ntm_alerts", dagster_event=failure.dagster_event, dagster_instance=instance,
        dagster_run=run).for_run_failure()
    ntm_alerts(context)
    return run


def _configure(monkeypatch, hooks: str, url: str = "", smtp_port: int = 0) -> None:
    monkeypatch.setenv("NTM_ALERT_HOOKS", hooks)
    monkeypatch.setenv("NTM_ALERT_WEBHOOK_URL", url)
    monkeypatch.setenv("NTM_ALERT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("NTM_ALERT_SMTP_PORT", str(smtp_port))
    monkeypatch.setenv("NTM_ALERT_EMAIL_FROM", "ntm@localhost")
    monkeypatch.setenv("NTM_ALERT_EMAIL_TO", "office@localhost, analyst@localhost")


def test_a_withheld_publication_is_reported_with_its_blocking_checks_and_report(
        home, run, instance, webhook, smtp, monkeypatch):
    copy_sample(home, "thai_nguyen_2020_h1.zip")
    (home.landing / "sai.csv").write_bytes(claims_bytes([dict(  # the sample computes 87
        cap="tinh", ma_don_vi="19", tu_thang="2020-01", den_thang="2020-06", chi_so="so_xa_dat_chuan",
        gia_tri=103, nguon="test")]))
    assert run(home) == 2  # withheld
    url, posts, _ = webhook
    port, messages = smtp
    _configure(monkeypatch, "log,webhook,email", url, port)

    run_record = _evaluate_sensor_on_last_run(instance)

    [post] = posts
    assert post["content_type"].startswith("application/json")
    alert = post["json"]
    assert alert["kind"] == "publication_withheld" and alert["run_id"] == run_record.run_id
    assert [c["ma_kiem_tra"] for c in alert["blocking_checks"]] == ["CLAIM_MISMATCH"]
    assert alert["blocking_checks"][0]["so_van_de"] == 1 and alert["open_errors"] == 1
    report = home.reports.resolve()
    assert alert["report"].startswith(str(report)) and alert["report"].endswith(".html")
    assert alert["report_url"] == (home.reports / alert["report"].split("/")[-1]).resolve().as_uri()
    assert "CLAIM_MISMATCH" in alert["summary"]

    [message] = messages
    assert "CLAIM_MISMATCH" in message["Subject"] and message["To"] == "office@localhost, analyst@localhost"
    body = message.get_body(("plain",)).get_content()
    assert alert["report_url"] in body and "blocking check CLAIM_MISMATCH: 1 issue(s)" in body

    # A receiver that refuses: the evaluation fails, so the tick is retried, not lost.
    webhook[2]["status"] = 500
    with pytest.raises(AlertDeliveryFailed, match="webhook"):
        _evaluate_sensor_on_last_run(instance)
    assert len(messages) == 2  # the other hook was still tried


def test_a_failed_run_is_reported_with_its_failed_step(home, run, instance, webhook, monkeypatch):
    home.warehouse.write_bytes(b"this is not a DuckDB database" * 100)  # the first step cannot open it
    assert run(home) == 1
    url, posts, _ = webhook
    _configure(monkeypatch, "webhook", url)

    run_record = _evaluate_sensor_on_last_run(instance)

    [post] = posts
    alert = post["json"]
    assert alert["kind"] == "run_failed" and alert["run_id"] == run_record.run_id
    assert alert["failed_steps"]  # the first step to open the warehouse, with DuckDB's error naming it
    assert any("warehouse.duckdb" in step["error"] for step in alert["failed_steps"])
    assert "failed" in alert["summary"] and alert["report"] is None


def test_alert_settings_come_from_the_environment():
    settings = AlertSettings.from_env({"NTM_ALERT_HOOKS": "log, webhook", "NTM_ALERT_WEBHOOK_URL": "http://127.0.0.1:9/x",
                                       "NTM_ALERT_EMAIL_TO": "a@x, b@x", "NTM_ALERT_SMTP_PORT": "2525"})
    assert settings.hooks == ("log", "webhook") and settings.email_to == ("a@x", "b@x")
    assert settings.smtp_port == 2525 and AlertSettings.from_env({}).hooks == ("log",)


def test_the_alert_sensor_is_registered(tmp_path):
    from pipelines.definitions import build_definitions

    sensor = build_definitions(tmp_path).resolve_sensor_def("ntm_alerts")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
