"""Alerts: a run-status sensor that reports a failed run or a withheld publication through the
configured hooks (log, e-mail, webhook; `AlertSettings`, read from the environment).

A withheld publication is a failed run too: the blocking check `no_open_errors` fails its step. The
sensor tells the two apart by that check's evaluation in the run's event log, and for a withheld run
names the checks that blocked (from the run's quality report) with a link to that report.

A hook that cannot deliver makes the sensor's evaluation fail, so the tick shows as failed in the
UI and the run is evaluated again at the next tick (delivery at least once).
"""

from __future__ import annotations

import json
import smtplib
import urllib.request
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import dagster as dg

from pipelines.lib.resources import AlertSettings

GATE_CHECK = "no_open_errors"
QUALITY_ASSET = dg.AssetKey("quality_issues")
HOOKS = ("log", "email", "webhook")


class AlertDeliveryFailed(Exception):
    pass


def _report_link(report: str | None, settings: AlertSettings) -> str | None:
    if not report:
        return None
    path = Path(report)
    if settings.report_base_url:
        return f"{settings.report_base_url.rstrip('/')}/{path.name}"
    return path.resolve().as_uri()


def _run_events(instance: dg.DagsterInstance, run_id: str) -> tuple[dict | None, str | None]:
    """The gate's evaluation in this run (passed, description, metadata) and the path of the quality
    report the run wrote, from the run's event log."""
    gate, report = None, None
    records = instance.all_logs(run_id, of_type={dg.DagsterEventType.ASSET_CHECK_EVALUATION,
                                                  dg.DagsterEventType.ASSET_MATERIALIZATION})
    for record in records:
        event = record.dagster_event
        data = event.event_specific_data
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = data
            if evaluation.check_name == GATE_CHECK:
                gate = {"passed": evaluation.passed, "description": evaluation.description,
                        "metadata": {k: v.value for k, v in evaluation.metadata.items()}}
        elif event.asset_key == QUALITY_ASSET:
            value = data.materialization.metadata.get("report")
            report = str(value.value) if value is not None else report
    return gate, report


def _blocking(report: str | None, gate: dict) -> tuple[list[dict], int | None]:
    """The checks that blocked, with their issue counts, from the run's report data (the JSON beside
    the page); the gate's own metadata when that file is gone."""
    data_file = Path(report).with_suffix(".json") if report else None
    if data_file and data_file.exists():
        data = json.loads(data_file.read_text("utf-8"))
        blocking = [{"ma_kiem_tra": c["ma_kiem_tra"], "so_van_de": c.get("so_van_de"), "vi_du": c.get("vi_du")}
                    for c in data.get("blocking_by_check", [])]
        if blocking:
            return blocking, data.get("summary", {}).get("open_errors")
    table = str(gate["metadata"].get("blocking_checks", ""))
    rows = [line.strip("| ").split(" | ") for line in table.splitlines()[2:] if line.startswith("|")]
    return ([{"ma_kiem_tra": row[0], "so_van_de": int(row[1]) if row[1].isdigit() else None,
              "vi_du": row[2] if len(row) > 2 else None} for row in rows],
            gate["metadata"].get("open_errors"))


def _root_error(event: dg.DagsterEvent) -> str:
    """The innermost cause of a step's failure (Dagster wraps the user code's error)."""
    error = event.event_specific_data.error if event.event_specific_data else None
    if error is None:
        return event.message or ""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def build_alert(context: dg.RunFailureSensorContext, settings: AlertSettings) -> dict[str, Any]:
    """What to tell: a withheld publication (which checks, how many issues, the report) or a failed
    run (its failed steps and their errors)."""
    run = context.dagster_run
    gate, report = _run_events(context.instance, run.run_id)
    alert: dict[str, Any] = {"run_id": run.run_id, "job": run.job_name, "status": run.status.value,
                             "report": report, "report_url": _report_link(report, settings)}
    if gate is not None and not gate["passed"]:
        blocking, open_errors = _blocking(report, gate)
        names = ", ".join(b["ma_kiem_tra"] for b in blocking) or "?"
        alert.update(kind="publication_withheld", blocking_checks=blocking, open_errors=open_errors,
                     summary=f"NTM: publication withheld by {names} ({open_errors} open error issue(s)), "
                             f"run {run.run_id[:8]}")
        return alert
    failed = [{"step": e.step_key, "error": _root_error(e)} for e in context.get_step_failure_events()]
    # A run can fail before any step: its resources (the home's lock, a damaged warehouse) did not start.
    failed += [{"step": "resources", "error": _root_error(record.dagster_event)} for record in
               context.instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RESOURCE_INIT_FAILURE)]
    first = failed[0]["error"].splitlines()[0] if failed else (context.failure_event.message or "")
    alert.update(kind="run_failed", failed_steps=failed, error=context.failure_event.message,
                 summary=f"NTM: run {run.run_id[:8]} of {run.job_name} failed: {first}"[:300])
    return alert


def _email_body(alert: dict) -> str:
    lines = [alert["summary"], "", f"run: {alert['run_id']} ({alert['job']})"]
    for check in alert.get("blocking_checks", []):
        lines.append(f"blocking check {check['ma_kiem_tra']}: {check['so_van_de']} issue(s), e.g. {check['vi_du']}")
    for step in alert.get("failed_steps", []):
        lines.append(f"failed step {step['step']}: {step['error']}")
    if alert.get("report_url"):
        lines += ["", f"report: {alert['report_url']}"]
    return "\n".join(lines) + "\n"


def send_email(alert: dict, settings: AlertSettings) -> None:
    if not (settings.email_from and settings.email_to):
        raise AlertDeliveryFailed("e-mail alerts need NTM_ALERT_EMAIL_FROM and NTM_ALERT_EMAIL_TO")
    message = EmailMessage()
    message["Subject"] = alert["summary"]
    message["From"] = settings.email_from
    message["To"] = ", ".join(settings.email_to)
    message.set_content(_email_body(alert))
    message.add_attachment(json.dumps(alert, ensure_ascii=False, indent=2, default=str).encode("utf-8"),
                           maintype="application", subtype="json", filename="alert.json")
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout) as smtp:
        smtp.send_message(message)


def post_webhook(alert: dict, settings: AlertSettings) -> None:
    if not settings.webhook_url:
        raise AlertDeliveryFailed("webhook alerts need NTM_ALERT_WEBHOOK_URL")
    request = urllib.request.Request(
        settings.webhook_url, data=json.dumps(alert, ensure_ascii=False, default=str).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8"}, method="POST")
    with urllib.request.urlopen(request, timeout=settings.timeout) as response:
        if not 200 <= response.status < 300:
            raise AlertDeliveryFailed(f"webhook answered {response.status}")


def deliver(alert: dict, settings: AlertSettings, log) -> list[str]:
    """Send the alert through every configured hook; the log always gets it. Raises when any hook
    failed, after trying all of them."""
    unknown = [hook for hook in settings.hooks if hook not in HOOKS]
    log.error(alert["summary"] + (f" (report: {alert['report_url']})" if alert.get("report_url") else ""))
    sent, failures = ["log"], [f"unknown hook {hook!r} (NTM_ALERT_HOOKS takes {', '.join(HOOKS)})" for hook in unknown]
    for hook, send in (("email", send_email), ("webhook", post_webhook)):
        if hook not in settings.hooks:
            continue
        try:
            send(alert, settings)
            sent.append(hook)
        except Exception as error:  # every hook gets its try; the failure is raised below
            failures.append(f"{hook}: {error}")
    if failures:
        raise AlertDeliveryFailed(f"alert for run {alert['run_id']} not delivered: " + "; ".join(failures))
    return sent


@dg.run_failure_sensor(name="ntm_alerts", minimum_interval_seconds=30,
                       default_status=dg.DefaultSensorStatus.RUNNING,
                       description="Reports failed runs and withheld publications (log, e-mail, webhook).")
def ntm_alerts(context: dg.RunFailureSensorContext):
    settings = AlertSettings.from_env()
    alert = build_alert(context, settings)
    sent = deliver(alert, settings, context.log)
    context.log.info(f"alert {alert['kind']} for run {alert['run_id']} sent via {', '.join(sent)}")


defs = dg.Definitions(sensors=[ntm_alerts])
