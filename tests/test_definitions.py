import dagster as dg

from pipelines.definitions import PIPELINE_JOB, build_definitions


def test_definitions_load_with_assets_checks_sensor_and_schedule(tmp_path):
    defs = build_definitions(tmp_path)
    keys = {spec.key for spec in defs.resolve_all_asset_specs()}
    for expected in (["raw", "submissions"], ["raw", "claims"], ["ref", "admin_units"], ["ref", "roster"],
                     ["stg_submissions"], ["fct_commune_month"], ["mart_unit_month"], ["claim_reconciliation"],
                     ["audit_findings"], ["quality_issues"], ["published_warehouse"]):
        assert dg.AssetKey(expected) in keys
    graph = defs.resolve_asset_graph()
    check_keys = graph.asset_check_keys
    assert dg.AssetCheckKey(dg.AssetKey("quality_issues"), "no_open_errors") in check_keys
    # dbt data tests surface as asset checks on their models
    assert any(key.asset_key == dg.AssetKey("mart_unit_month") for key in check_keys)
    assert defs.resolve_job_def(PIPELINE_JOB) is not None
    assert defs.resolve_sensor_def("landing_sensor") is not None
    assert defs.resolve_schedule_def("monthly_build") is not None


def test_raw_sources_of_dbt_are_the_ingest_assets(tmp_path):
    graph = build_definitions(tmp_path).resolve_asset_graph()
    upstream = graph.get(dg.AssetKey("stg_submissions")).parent_keys
    assert dg.AssetKey(["raw", "submissions"]) in upstream
    assert graph.get(dg.AssetKey(["raw", "submissions"])).is_materializable


def test_sensor_and_schedule_launch_builds_of_the_changed_months_over_every_partition(tmp_path):
    from pipelines.lib.dbt import changed_months_tags

    wanted = changed_months_tags()  # every partition, and ntm/months=changed (lib/months.py)
    assert wanted["ntm/months"] == "changed"

    defs = build_definitions(tmp_path / "home")
    (tmp_path / "home" / "landing").mkdir(parents=True)
    (tmp_path / "home" / "landing" / "a.csv").write_text("cap,chi_so\n")
    sensor = defs.resolve_sensor_def("landing_sensor")
    with dg.instance_for_test() as instance:
        with dg.build_sensor_context(instance=instance) as context:
            assert isinstance(sensor(context), dg.SkipReason)  # a first look (tests/test_sensor.py)
            cursor = context.cursor
        with dg.build_sensor_context(instance=instance, cursor=cursor) as context:
            request = sensor(context)
    assert request.tags == {**request.tags, **wanted}
    with dg.build_schedule_context() as context:
        [scheduled] = list(defs.resolve_schedule_def("monthly_build").evaluate_tick(context).run_requests)
    assert scheduled.tags == {**scheduled.tags, **wanted}
